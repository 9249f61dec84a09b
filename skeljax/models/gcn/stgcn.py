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

from collections.abc import Callable, Mapping, Sequence

import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models.gcn.backbone import DataBN, GCNBackbone, GCNBlock, stage_specs
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph, check_edition
from skeljax.models.gcn.units.conv import Adjacency, check_adjacency
from skeljax.models.gcn.units.graph_conv import GraphConv
from skeljax.models.gcn.units.ms_tcn import DEFAULT_MS_CFG, MultiScaleTemporalConv
from skeljax.models.gcn.units.temporal_conv import TemporalConv

DEFAULT_GRAPHS = {
    '1.x': {'layout': 'nturgb+d', 'strategy': 'stgcn_spatial'},
    '0.x': {'layout': 'ntu-rgb+d', 'strategy': 'stgcn_spatial'},
}
TCN_TYPES = ('unit_tcn', 'mstcn')

# (c_in, c_out, stride, dropout, rngs) -> module mapping [B, T, V, c_in] -> [B, ceil(T / stride), V, c_out]
TcnUnitFn = Callable[[int, int, int, float, nnx.Rngs], nnx.Module]


class GCNBackboneWithTCN(GCNBackbone):
  """``GCNBackbone`` whose temporal unit is given too (MMAction2 ``STGCN(tcn_type=...)``, CTR-GCN's MSTCN).

  Same layout, state names and call as ``GCNBackbone``: data BN, then ``num_stages`` blocks ``ReLU(tcn(gcn(x))
  + residual(x))`` (MMAction2's ``base_channels`` / ``inflate_stages`` / ``down_stages``: channels x2 and time
  /2 at those stages); ``tcn_unit_fn(c_in, c_out, stride, dropout, rngs)`` builds each block's temporal unit
  (``tcn_dropout`` for every block but the first, as in MMAction2), and the residual of a block whose shape
  changes stays a strided 1x1 conv + BN, Kaiming-initialised (``unit_tcn(kernel_size=1)``). Built in the
  same order as ``GCNBackbone``, so with ``unit_tcn`` it draws the same initial values. ``with_cp`` as there.
  """

  def __init__(self, adjacency: np.ndarray, gcn_unit_fn, tcn_unit_fn: TcnUnitFn, *, in_channels: int = 3,
               num_person: int = 2, data_bn_type: str | None = 'VC', tcn_dropout: float = 0.0,
               base_channels: int = 64, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
               down_stages: Sequence[int] = (5, 8), with_cp: bool = False, rngs: nnx.Rngs):
    adjacency = check_adjacency(adjacency)
    self.num_node = adjacency.shape[-1]
    self.with_cp = with_cp
    self.in_channels = in_channels
    # The configured graph, kept so a checkpoint's graph buffers can be verified against it.
    self.A = Adjacency(jnp.asarray(adjacency))
    self.data_bn = DataBN(data_bn_type, num_person, self.num_node, in_channels)
    specs = stage_specs(in_channels, base_channels, num_stages, tuple(inflate_stages), tuple(down_stages))
    blocks = []
    for i, (c_in, c_out, stride, residual_kind) in enumerate(specs):
      gcn = gcn_unit_fn(c_in, c_out, adjacency, rngs)
      tcn = tcn_unit_fn(c_out, c_out, stride, tcn_dropout if i else 0.0, rngs)
      residual = (TemporalConv(c_in, c_out, kernel_size=1, stride=stride, init='kaiming', rngs=rngs)
                  if residual_kind == 'conv' else None)
      blocks.append(GCNBlock(gcn, tcn, residual_kind, residual))
    self.blocks = nnx.List(blocks)
    self.out_channels = specs[-1][1]


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

    if tcn_type == 'unit_tcn':
      def tcn_unit(c_in, c_out, stride, dropout, unit_rngs):
        return TemporalConv(c_in, c_out, kernel_size=9, stride=stride, dropout=dropout, init='kaiming',
                            rngs=unit_rngs)
    else:
      ms_cfg = DEFAULT_MS_CFG if tcn_ms_cfg is None else tcn_ms_cfg

      def tcn_unit(c_in, c_out, stride, dropout, unit_rngs):
        return MultiScaleTemporalConv(c_in, c_out, stride=stride, dropout=dropout, ms_cfg=ms_cfg, rngs=unit_rngs)

    self.backbone = GCNBackboneWithTCN(adjacency, gcn_unit, tcn_unit, in_channels=in_channels,
                                       num_person=num_person, data_bn_type=data_bn_type, tcn_dropout=tcn_dropout,
                                       base_channels=base_channels, num_stages=num_stages,
                                       inflate_stages=inflate_stages, down_stages=down_stages, with_cp=with_cp,
                                       rngs=rngs)
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
