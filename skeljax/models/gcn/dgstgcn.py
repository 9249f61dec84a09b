"""DG-STGCN (Duan et al., 2022) as in PySKL ``DGSTGCN`` + ``GCNHead``, and its checkpoint map.

The ST-GCN layout (data BN over V * C, 10 blocks 64 x4, 128 x3, 256 x3, time /2 at blocks 5 and 8,
``ReLU(tcn(gcn(x)) + residual(x))``) with DG-STGCN's units: ``dggcn`` (K = 8 learned graphs, dynamic
per-sample terms) and ``dgmstcn`` (multi-scale temporal branches with joint-skeleton fusion). The graph is
PySKL's ``mode='random'``: ``A ~ N(init_off, init_std^2)`` ``[num_filter, V, V]``, drawn once and given to
every block as its initial (learned) ``A``; a checkpoint carries the learned graphs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.checkpoint.gcn_import import add_classifier, classifier_prefix
from skeljax.checkpoint.mmaction import KeyMap, load_state_dict_into
from skeljax.models.gcn import graph as graph_lib
from skeljax.models.gcn.backbone import DataBN, GCNBlock, stage_specs
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph
from skeljax.models.gcn.units.dg_gcn import DGGraphConv
from skeljax.models.gcn.units.dg_tcn import ConvBranch, DGTemporalConv, MaxBranch
from skeljax.models.gcn.units.ms_tcn import DEFAULT_MS_CFG
from skeljax.models.gcn.units.temporal_conv import TemporalConv
from skeljax.models.recompute import call_recomputed

# PySKL's NTU60 X-Sub 3D config (configs/dgstgcn/ntu60_xsub_3dkp/j.py).
DEFAULT_GRAPH = {'layout': 'nturgb+d', 'mode': 'random', 'num_filter': 8, 'init_off': 0.04, 'init_std': 0.02}
# PySKL defines DG-STGCN; its checkpoints name the classifier cls_head.fc_cls, MMAction2's GCNHead cls_head.fc.
EDITIONS = ('pyskl', '1.x')


def initial_graph(graph_cfg: Mapping | None, key: jax.Array) -> jax.Array:
  """The ``[K, V, V]`` initial ``A`` of every block: random (PySKL ``mode='random'``) or a fixed strategy."""
  cfg = dict(DEFAULT_GRAPH if graph_cfg is None else graph_cfg)
  mode = cfg.get('mode', cfg.get('strategy'))
  if mode != 'random':
    return jnp.asarray(build_graph(cfg, DEFAULT_GRAPH))
  unknown = set(cfg) - {'layout', 'mode', 'strategy', 'num_filter', 'init_off', 'init_std'}
  if unknown or 'layout' not in cfg:
    raise ValueError(f"random graph_cfg takes layout, num_filter, init_off, init_std; got {sorted(cfg)}")
  num_node = graph_lib.get_layout(cfg['layout']).num_node
  shape = (int(cfg.get('num_filter', 3)), num_node, num_node)
  return jax.random.normal(key, shape) * float(cfg.get('init_std', 0.02)) + float(cfg.get('init_off', 0.04))


class DGSTGCNBackbone(nnx.Module):
  """Data BN + DG blocks: ``[N, M, T, V, C] -> [N * M, ceil(T / 4), V, 4 * base_channels]`` by default.

  ``num_stages`` blocks; a block in ``inflate_stages`` doubles the channels, one in ``down_stages`` halves time
  (PySKL's arguments; ``ch_ratio`` 2). Not ``backbone.GCNBackbone``: PySKL leaves the residual convs at
  PyTorch's default init (MMAction2's STGCN Kaiming-inits them), and there is no fixed graph to keep.
  ``with_cp``: each block's backward pass recomputes its activations (``recompute.call_recomputed``).
  """

  def __init__(self, adjacency: jax.Array, *, in_channels: int = 3, base_channels: int = 64,
               num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8),
               num_person: int = 2, data_bn_type: str | None = 'VC', gcn_ratio: float | None = 0.125,
               gcn_ctr: str | None = 'T', gcn_ada: str | None = 'T', gcn_subset_wise: bool = False,
               tcn_ms_cfg: Sequence = DEFAULT_MS_CFG, tcn_num_joints: int = 25, tcn_dropout: float = 0.0,
               with_cp: bool = False, rngs: nnx.Rngs):
    self.num_node, self.in_channels = adjacency.shape[-1], in_channels
    self.with_cp = with_cp
    self.data_bn = DataBN(data_bn_type, num_person, self.num_node, in_channels)
    blocks = []
    specs = stage_specs(in_channels, base_channels, num_stages, tuple(inflate_stages), tuple(down_stages))
    for i, (c_in, c_out, stride, residual_kind) in enumerate(specs):
      gcn = DGGraphConv(c_in, c_out, adjacency, ratio=gcn_ratio, ctr=gcn_ctr, ada=gcn_ada,
                        subset_wise=gcn_subset_wise, rngs=rngs)
      # As PySKL, the first block never gets tcn_dropout.
      tcn = DGTemporalConv(c_out, c_out, stride=stride, ms_cfg=tcn_ms_cfg, num_joints=tcn_num_joints,
                           dropout=tcn_dropout if i else 0.0, rngs=rngs)
      residual = (TemporalConv(c_in, c_out, kernel_size=1, stride=stride, init='torch', rngs=rngs)
                  if residual_kind == 'conv' else None)
      blocks.append(GCNBlock(gcn, tcn, residual_kind, residual))
    self.blocks = nnx.List(blocks)
    self.out_channels = specs[-1][1]

  def __call__(self, x: jax.Array) -> jax.Array:
    if x.ndim != 5 or x.shape[3] != self.num_node or x.shape[4] != self.in_channels:
      raise ValueError(f'DG-STGCN backbone built for [N, M, T, V={self.num_node}, C={self.in_channels}] input, '
                       f'got shape {x.shape}')
    x = self.data_bn(x)
    for block in self.blocks:
      x = call_recomputed(block, x) if self.with_cp else block(x)
    return x


class DGSTGCNRecognizer(GCNRecognizer):
  """DG-STGCN recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``.

  Arguments are PySKL's ``DGSTGCN`` ones (``gcn_ratio``, ``gcn_ctr``, ``gcn_ada``, ``tcn_ms_cfg``, ...);
  ``edition`` ('pyskl' or '1.x') only names the checkpoint layout a converted model came from; ``with_cp`` as in
  ``DGSTGCNBackbone``.
  """

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               base_channels: int = 64, num_stages: int = 10, inflate_stages: Sequence[int] = (5, 8),
               down_stages: Sequence[int] = (5, 8), num_person: int = 2, data_bn_type: str | None = 'VC',
               gcn_ratio: float | None = 0.125, gcn_ctr: str | None = 'T', gcn_ada: str | None = 'T',
               gcn_subset_wise: bool = False, tcn_ms_cfg: Sequence = DEFAULT_MS_CFG, tcn_num_joints: int = 25,
               tcn_dropout: float = 0.0, head_dropout: float = 0.0, edition: str = 'pyskl', with_cp: bool = False,
               rngs: nnx.Rngs):
    self.edition = check_edition(edition)
    adjacency = initial_graph(graph_cfg, rngs.params())
    self.backbone = DGSTGCNBackbone(
        adjacency, in_channels=in_channels, base_channels=base_channels, num_stages=num_stages,
        inflate_stages=inflate_stages, down_stages=down_stages, num_person=num_person,
        data_bn_type=data_bn_type, gcn_ratio=gcn_ratio, gcn_ctr=gcn_ctr, gcn_ada=gcn_ada,
        gcn_subset_wise=gcn_subset_wise, tcn_ms_cfg=tcn_ms_cfg, tcn_num_joints=tcn_num_joints,
        tcn_dropout=tcn_dropout, with_cp=with_cp, rngs=rngs)
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, rngs=rngs)


def check_edition(edition: str) -> str:
  """``edition`` if DG-STGCN checkpoints come in that layout, else a ValueError naming the known ones."""
  if edition not in EDITIONS:
    raise ValueError(f'DG-STGCN checkpoint edition must be one of {EDITIONS}, got {edition!r}')
  return edition


# ---------------------------------------------------------------------------------------------------------
# Checkpoint import (PySKL key names; classifier fc_cls or MMAction2's fc).
# ---------------------------------------------------------------------------------------------------------


def _add_gcn(key_map: KeyMap, prefix: str, path: tuple, unit: DGGraphConv) -> None:
  for name in ('A', 'alpha', 'beta'):
    key_map.add(f'{prefix}.{name}', path + (name,))
  key_map.add_conv(f'{prefix}.pre.0', path + ('pre',))
  key_map.add_batchnorm(f'{prefix}.pre.1', path + ('pre_bn',))
  key_map.add_conv(f'{prefix}.post', path + ('post',))
  if hasattr(unit, 'conv1'):
    key_map.add_conv(f'{prefix}.conv1', path + ('conv1',))
    key_map.add_conv(f'{prefix}.conv2', path + ('conv2',))
  if unit.down is not None:
    key_map.add_conv(f'{prefix}.down.0', path + ('down', 'conv'))
    key_map.add_batchnorm(f'{prefix}.down.1', path + ('down', 'bn'))
  key_map.add_batchnorm(f'{prefix}.bn', path + ('bn',))


def _add_tcn(key_map: KeyMap, prefix: str, path: tuple, unit: DGTemporalConv) -> None:
  key_map.add(f'{prefix}.add_coeff', path + ('add_coeff',))
  for j, branch in enumerate(unit.branches):
    p, q = f'{prefix}.branches.{j}', path + ('branches', j)
    if isinstance(branch, (ConvBranch, MaxBranch)):
      key_map.add_conv(f'{p}.0', q + ('conv',))
      key_map.add_batchnorm(f'{p}.1', q + ('bn',))
      if isinstance(branch, ConvBranch):
        key_map.add_conv(f'{p}.3.conv', q + ('tcn',))
    else:  # '1x1': the branch is the strided conv itself
      key_map.add_conv(p, q)
  key_map.add_batchnorm(f'{prefix}.transform.0', path + ('transform_bn',))
  key_map.add_conv(f'{prefix}.transform.2', path + ('transform_conv',))
  key_map.add_batchnorm(f'{prefix}.bn', path + ('bn',))


def mmaction_key_map(model: DGSTGCNRecognizer, edition: str = 'pyskl', head_prefix: str | None = None) -> KeyMap:
  """PySKL DG-STGCN state-dict keys -> ``model`` variables; ``head_prefix`` names the classifier
  (default: the edition's, ``cls_head.fc_cls`` for PySKL, ``cls_head.fc`` for MMAction2's GCNHead)."""
  check_edition(edition)
  key_map = KeyMap()
  if model.backbone.data_bn.bn is not None:
    key_map.add_batchnorm('backbone.data_bn', ('backbone', 'data_bn', 'bn'))
  for i, block in enumerate(model.backbone.blocks):
    prefix, path = f'backbone.gcn.{i}', ('backbone', 'blocks', i)
    _add_gcn(key_map, f'{prefix}.gcn', path + ('gcn',), block.gcn)
    _add_tcn(key_map, f'{prefix}.tcn', path + ('tcn',), block.tcn)
    if block.residual_kind == 'conv':
      key_map.add_conv(f'{prefix}.residual.conv', path + ('residual', 'conv'))
      key_map.add_batchnorm(f'{prefix}.residual.bn', path + ('residual', 'bn'))
  add_classifier(key_map, head_prefix or ('cls_head.fc_cls' if edition == 'pyskl' else 'cls_head.fc'))
  return key_map


def import_pyskl_dgstgcn(model: DGSTGCNRecognizer, state_dict: dict[str, np.ndarray], edition: str | None = None,
                         source: str = 'checkpoint') -> None:
  """Loads a PySKL DG-STGCN ``state_dict`` (either classifier name) into ``model`` in place.

  Raises ``CheckpointMismatchError`` listing every unknown, missing or mis-shaped key.
  """
  if 'state_dict' in state_dict and isinstance(state_dict['state_dict'], dict):
    state_dict = state_dict['state_dict']
  edition = model.edition if edition is None else edition
  key_map = mmaction_key_map(model, edition, head_prefix=classifier_prefix(state_dict, source))
  load_state_dict_into(model, state_dict, key_map, source=source)
