"""2s-AGCN (Shi et al. 2019) as in MMAction2 0.x ``AGCN`` + ``STGCNHead`` (the paper's adaptive unit).

Unit, per subset k: ``S_k = softmax_v(theta(x) . phi(x) / (inter * T))``, aggregate x with
``A_k + B_k + S_k`` (A fixed, B learnable), 1x1 ``conv_d``; then ``ReLU(BN(sum_k) + down(x))``. The
temporal unit is conv + BN without the ST-GCN's leading BN/ReLU.

Init reproduces what 0.x actually does (checked against the reference's init statistics): only B is set
(1e-6); the unit's intended Kaiming / branch / 1e-6-BN inits are silent no-ops there, so every conv keeps
PyTorch's default init and every BN weight is 1.
"""

from __future__ import annotations

from collections.abc import Mapping

from flax import nnx

from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph
from skeljax.models.gcn.units.agcn_unit import AGCNUnit

DEFAULT_GRAPH = {'layout': 'ntu-rgb+d', 'strategy': 'spatial'}


class AGCNRecognizer(GCNRecognizer):
  """0.x 2s-AGCN recognizer (one stream): ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``."""

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               num_person: int = 2, data_bn_type: str | None = 'VC', tcn_dropout: float = 0.0,
               head_dropout: float = 0.0, head: str = 'stgcn0x', edition: str = '0.x',
               with_cp: bool = False, rngs: nnx.Rngs):
    if edition != '0.x':
      raise ValueError(f"'agcn' is the MMAction2 0.x unit (edition '0.x'); for 1.x use 'aagcn', got {edition!r}")
    self.edition = edition
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPH)

    def gcn_unit(c_in, c_out, a, unit_rngs):
      return AGCNUnit(c_in, c_out, a, rngs=unit_rngs)

    self.backbone = GCNBackbone(adjacency, gcn_unit, in_channels=in_channels, num_person=num_person,
                                data_bn_type=data_bn_type, tcn_dropout=tcn_dropout, conv_init='torch',
                                with_cp=with_cp, rngs=rngs)
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, head_type=head,
                            rngs=rngs)
