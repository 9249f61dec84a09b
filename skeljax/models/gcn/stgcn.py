"""ST-GCN (Yan et al. 2018) and ST-GCN++ (Duan et al. 2022) as MMAction2 1.x ``STGCN`` + ``GCNHead`` builds them,
and 0.x ``STGCN`` + ``STGCNHead``.

ST-GCN's two editions compute the same function; they differ in the default graph (the NTU / COCO edge lists
changed), the head's parameter layout, and init: 0.x Kaiming-inits every conv, 1.x leaves the graph conv
at PyTorch's default. ``edition`` picks all three; a checkpoint only matches the graph it was trained with.

ST-GCN++ is the 1.x ``STGCN`` with ``gcn_adaptive='init'`` (learnable graph), ``gcn_with_res=True`` (a
residual inside the graph unit) and ``tcn_type='mstcn'`` (multi-scale temporal unit) on the ``spatial``
graph; ``STGCNPlusPlusRecognizer`` (model name ``stgcnpp``) is that with those defaults. The arguments
keep MMAction2's names and values (``skeljax.models.gcn.units.graph_conv``, ``units.ms_tcn``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from flax import nnx

from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph, check_edition
from skeljax.models.gcn.units.graph_conv import GraphConv
from skeljax.models.gcn.units.ms_tcn import DEFAULT_MS_CFG, MultiScaleTemporalConv

DEFAULT_GRAPHS = {
    '1.x': {'layout': 'nturgb+d', 'strategy': 'stgcn_spatial'},
    '0.x': {'layout': 'ntu-rgb+d', 'strategy': 'stgcn_spatial'},
}
TCN_TYPES = ('unit_tcn', 'mstcn')

def _check_options(edition: str, adaptive, conv_pos: str, with_res: bool, tcn_type: str, tcn_ms_cfg) -> None:
  if tcn_type not in TCN_TYPES:
    raise ValueError(f'tcn_type must be one of {TCN_TYPES}, got {tcn_type!r}')
  if tcn_ms_cfg is not None and tcn_type != 'mstcn':
    raise ValueError(f"tcn_ms_cfg configures tcn_type='mstcn'; this model has tcn_type={tcn_type!r}")
  if edition == '0.x' and (adaptive not in ('importance', None) or conv_pos != 'pre' or with_res
                           or tcn_type != 'unit_tcn'):
    raise ValueError('MMAction2 0.x STGCN has only edge importance (gcn_adaptive importance / None); '
                     "gcn_adaptive 'init' / 'offset', gcn_conv_pos 'post', gcn_with_res and tcn_type 'mstcn' "
                     "are 1.x options (edition '1.x')")


class STGCNRecognizer(GCNRecognizer):
  """ST-GCN / ST-GCN++ recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``.

  ``gcn_adaptive``, ``gcn_conv_pos``, ``gcn_with_res``, ``tcn_type``, ``tcn_ms_cfg``, ``tcn_dropout``,
  ``base_channels``, ``num_stages``, ``inflate_stages`` and ``down_stages`` are MMAction2 ``STGCN``'s
  arguments (channel ratio 2). ``edge_importance=False`` is the 0.x spelling of ``gcn_adaptive=None``.
  ``with_cp``: recompute each block's activations in the backward pass (less memory, more compute).
  """

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               num_person: int = 2, data_bn_type: str | None = 'VC', edge_importance: bool = True,
               gcn_adaptive: str | None = 'importance', gcn_conv_pos: str = 'pre', gcn_with_res: bool = False,
               tcn_type: str = 'unit_tcn', tcn_ms_cfg: Sequence | None = None, tcn_dropout: float = 0.0,
               base_channels: int = 64, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
               down_stages: Sequence[int] = (5, 8), head_dropout: float = 0.0, head: str | None = None,
               edition: str = '1.x', with_cp: bool = False, rngs: nnx.Rngs):
    self.edition = check_edition(edition)
    if not edge_importance:
      if gcn_adaptive not in ('importance', None):
        raise ValueError(f'edge_importance=False means gcn_adaptive=None; got gcn_adaptive={gcn_adaptive!r}')
      gcn_adaptive = None
    _check_options(edition, gcn_adaptive, gcn_conv_pos, gcn_with_res, tcn_type, tcn_ms_cfg)
    if in_channels == base_channels:
      raise ValueError(f'in_channels == base_channels ({base_channels}): MMAction2 STGCN then drops its first '
                       'block, which skeljax does not reproduce; use another base_channels')
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPHS[edition])
    gcn_init = 'kaiming' if edition == '0.x' else 'torch'

    def gcn_unit(c_in, c_out, a, unit_rngs):
      return GraphConv(c_in, c_out, a, adaptive=gcn_adaptive, conv_pos=gcn_conv_pos, with_res=gcn_with_res,
                       init=gcn_init, rngs=unit_rngs)

    tcn_unit = None  # 'unit_tcn': the backbone's own temporal conv (Kaiming-initialised)
    if tcn_type == 'mstcn':
      ms_cfg = DEFAULT_MS_CFG if tcn_ms_cfg is None else tcn_ms_cfg

      def tcn_unit(c_in, c_out, stride, dropout, unit_rngs):
        return MultiScaleTemporalConv(c_in, c_out, stride=stride, dropout=dropout, ms_cfg=ms_cfg, rngs=unit_rngs)

    self.backbone = GCNBackbone(adjacency, gcn_unit, tcn_unit_fn=tcn_unit, in_channels=in_channels,
                                num_person=num_person, data_bn_type=data_bn_type, tcn_dropout=tcn_dropout,
                                conv_init='kaiming', base_channels=base_channels, num_stages=num_stages,
                                inflate_stages=inflate_stages, down_stages=down_stages, with_cp=with_cp, rngs=rngs)
    head = head or ('stgcn0x' if edition == '0.x' else 'gcn')
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, head_type=head,
                            rngs=rngs)


class STGCNPlusPlusRecognizer(STGCNRecognizer):
  """ST-GCN++ (model name ``stgcnpp``): ``STGCNRecognizer`` with MMAction2's ``stgcnpp`` config defaults."""

  def __init__(self, *, num_classes: int, graph_cfg: Mapping | None = None, gcn_adaptive: str | None = 'init',
               gcn_with_res: bool = True, tcn_type: str = 'mstcn', **kwargs):
    graph_cfg = {'layout': 'nturgb+d', 'strategy': 'spatial'} if graph_cfg is None else graph_cfg
    super().__init__(num_classes=num_classes, graph_cfg=graph_cfg, gcn_adaptive=gcn_adaptive,
                     gcn_with_res=gcn_with_res, tcn_type=tcn_type, **kwargs)
