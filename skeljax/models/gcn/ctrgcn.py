"""CTR-GCN (Chen et al. 2021) as MMAction2 ``projects/ctrgcn`` ``CTRGCN`` + ``GCNHead`` (PySKL's is the same).

ST-GCN's 10-block layout (``ReLU(tcn(gcn(x)) + residual(x))``, channels x2 and time /2 at stages 5 and 8)
with CTR-GCN's units: the channel-wise topology refinement graph unit (``units/ctrgcn_unit.py``) and
CTR-GCN's multi-scale temporal unit (``units/ctrgcn_tcn.py``: kernel 5, dilations 1 and 2). The input
BatchNorm runs over persons, joints and channels (``M * V * C``), as the reference's ``data_bn`` always does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flax import nnx

from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph, check_edition
from skeljax.models.gcn.units.ctrgcn_tcn import CTRGCNTemporalConv
from skeljax.models.gcn.units.ctrgcn_unit import CTRGCNUnit

DEFAULT_GRAPH = {'layout': 'nturgb+d', 'strategy': 'spatial'}


class CTRGCNRecognizer(GCNRecognizer):
  """CTR-GCN recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``.

  ``base_channels``, ``num_stages``, ``inflate_stages``, ``down_stages``, ``num_person`` and the block
  arguments ``kernel_size``, ``dilations``, ``tcn_dropout`` are the reference ``CTRGCN``'s. ``with_cp``: recompute
  each block's activations in the backward pass (``GCNBackbone``).
  """

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               num_person: int = 2, base_channels: int = 64, num_stages: int = 10,
               inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
               kernel_size: int | Sequence[int] = 5, dilations: Sequence[int] = (1, 2), tcn_dropout: float = 0.0,
               head_dropout: float = 0.0, edition: str = '1.x', with_cp: bool = False,
               rngs: nnx.Rngs):
    if check_edition(edition) != '1.x':
      raise ValueError(f"CTR-GCN exists in MMAction2 1.x (projects/ctrgcn) and PySKL only: edition '1.x', "
                       f'got {edition!r}')
    self.edition = edition
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPH)

    def gcn_unit(c_in, c_out, a, unit_rngs):
      return CTRGCNUnit(c_in, c_out, a, rngs=unit_rngs)

    def tcn_unit(c_in, c_out, stride, dropout, unit_rngs):
      return CTRGCNTemporalConv(c_in, c_out, kernel_size=kernel_size, stride=stride, dilations=dilations,
                                dropout=dropout, rngs=unit_rngs)

    self.backbone = GCNBackbone(adjacency, gcn_unit, tcn_unit_fn=tcn_unit, in_channels=in_channels,
                                num_person=num_person, data_bn_type='MVC', tcn_dropout=tcn_dropout,
                                conv_init='kaiming', base_channels=base_channels, num_stages=num_stages,
                                inflate_stages=inflate_stages, down_stages=down_stages, with_cp=with_cp, rngs=rngs)
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, rngs=rngs)
