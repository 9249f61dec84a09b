"""AAGCN (Shi et al. 2020) as in MMAction2 1.x ``AAGCN`` + ``GCNHead`` (also PySKL's unit).

Unit, per subset k: ``S_k = tanh(theta(x) . phi(x) / (inter * T))``; aggregate x with ``A_k + alpha * S_k``
(A learnable from the graph, alpha from 0), 1x1 ``conv_d``; ``y = ReLU(BN(sum_k) + down(x))``; then,
with ``attention=True``, spatial, temporal and channel attention, each ``y <- y * sigmoid(.) + y``.
MMAction2's 1.x "2s-agcn" configs use ``gcn_attention=False`` (our default); the class default there is True.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flax import nnx

from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph, check_edition
from skeljax.models.gcn.units.aagcn_unit import AAGCNUnit

DEFAULT_GRAPH = {'layout': 'nturgb+d', 'strategy': 'spatial'}


class AAGCNRecognizer(GCNRecognizer):
  """1.x AAGCN recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``.

  ``base_channels``, ``num_stages``, ``inflate_stages`` and ``down_stages`` are MMAction2 ``AAGCN``'s.
  """

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               num_person: int = 2, data_bn_type: str | None = 'MVC', attention: bool = False,
               base_channels: int = 64, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
               down_stages: Sequence[int] = (5, 8), tcn_dropout: float = 0.0, head_dropout: float = 0.0,
               head: str = 'gcn', edition: str = '1.x', with_cp: bool = False, rngs: nnx.Rngs):
    if check_edition(edition) != '1.x':
      raise ValueError(f"'aagcn' is the MMAction2 1.x unit (edition '1.x'); for 0.x use 'agcn', got {edition!r}")
    self.edition = edition
    if in_channels == base_channels:
      raise ValueError(f'in_channels == base_channels ({base_channels}): MMAction2 AAGCN then drops its first '
                       'block, which skeljax does not reproduce; use another base_channels')
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPH)

    def gcn_unit(c_in, c_out, a, unit_rngs):
      return AAGCNUnit(c_in, c_out, a, attention=attention, rngs=unit_rngs)

    self.backbone = GCNBackbone(adjacency, gcn_unit, in_channels=in_channels, num_person=num_person,
                                data_bn_type=data_bn_type, tcn_dropout=tcn_dropout, conv_init='kaiming',
                                base_channels=base_channels, num_stages=num_stages, inflate_stages=inflate_stages,
                                down_stages=down_stages, with_cp=with_cp, rngs=rngs)
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, head_type=head,
                            rngs=rngs)
