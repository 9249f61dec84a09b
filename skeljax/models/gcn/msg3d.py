"""MS-G3D (Liu et al., CVPR 2020) as in MMAction2 ``projects/msg3d`` (``MSG3D`` + ``GCNHead``; PySKL's is the
same network with the same tensor names, its head named ``fc_cls``), and its checkpoint map.

Three stages (channels 96, 192, 384; time /1, /2, /2). Each stage sums two pathways and applies ReLU, then a
temporal unit: ``x = ReLU(sgcn(x) + gcn3d(x)); x = tcn(x)``. ``sgcn`` = multi-scale GCN (13 k-hop scales)
-> MSTCN -> MSTCN (no final ReLU); ``gcn3d`` = G3D over windows of 3 and 5 frames (6 scales each). Input BN
over M * V * C. The base graph is ``binary_adj`` (unnormalised adjacency, no self links).
"""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.checkpoint.gcn_import import add_classifier, classifier_prefix
from skeljax.checkpoint.mmaction import KeyMap, load_state_dict_into
from skeljax.models.gcn.backbone import DataBN
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph
from skeljax.models.gcn.units.conv import Adjacency
from skeljax.models.gcn.units.msg3d_g3d import MultiWindowG3D
from skeljax.models.gcn.units.msg3d_gcn import MultiScaleGraphConv
from skeljax.models.gcn.units.msg3d_tcn import MSG3DTemporalConv

DEFAULT_GRAPH = {'layout': 'nturgb+d', 'strategy': 'binary_adj'}
# MMAction2 projects/ and PySKL name every tensor alike; only the classifier differs (fc / fc_cls).
EDITIONS = ('1.x', 'pyskl')
NUM_STAGES = 3


class MSG3DBackbone(nnx.Module):
  """``[N, M, T, V, C] -> [N * M, ceil(ceil(T / 2) / 2), V, 4 * base_channels]``."""

  def __init__(self, adjacency: np.ndarray, *, in_channels: int = 3, base_channels: int = 96,
               num_gcn_scales: int = 13, num_g3d_scales: int = 6, num_person: int = 2, tcn_dropout: float = 0.0,
               rngs: nnx.Rngs):
    if adjacency.ndim != 3 or adjacency.shape[0] != 1:
      raise ValueError(f'MS-G3D builds its scales from one [V, V] graph (strategy binary_adj, K = 1); '
                       f'got adjacency of shape {adjacency.shape}')
    adjacency = adjacency[0]
    self.num_node, self.in_channels = adjacency.shape[-1], in_channels
    self.A = Adjacency(jnp.asarray(adjacency, jnp.float32))
    self.data_bn = DataBN('MVC', num_person, self.num_node, in_channels)
    channels = [in_channels] + [base_channels * 2 ** i for i in range(NUM_STAGES)]
    for stage in range(1, NUM_STAGES + 1):
      c_in, c_out = channels[stage - 1], channels[stage]
      stride = 1 if stage == 1 else 2
      # The spatial pathway's GCN keeps the input width; the MSTCN after it widens (and strides).
      c_gcn = c_out if stage == 1 else c_in
      setattr(self, f'gcn3d{stage}', MultiWindowG3D(c_in, c_out, adjacency, num_g3d_scales,
                                                    window_stride=stride, rngs=rngs))
      setattr(self, f'sgcn{stage}', nnx.List([
          MultiScaleGraphConv(num_gcn_scales, c_in, c_gcn, adjacency, rngs=rngs),
          MSG3DTemporalConv(c_gcn, c_out, stride=stride, rngs=rngs),
          MSG3DTemporalConv(c_out, c_out, activation=False, rngs=rngs)]))
      setattr(self, f'tcn{stage}', MSG3DTemporalConv(c_out, c_out, dropout=tcn_dropout, rngs=rngs))
    self.out_channels = channels[-1]

  def __call__(self, x: jax.Array) -> jax.Array:
    if x.ndim != 5 or x.shape[3] != self.num_node or x.shape[4] != self.in_channels:
      raise ValueError(f'MS-G3D backbone built for [N, M, T, V={self.num_node}, C={self.in_channels}] input, '
                       f'got shape {x.shape}')
    x = self.data_bn(x)
    for stage in range(1, NUM_STAGES + 1):
      spatial = x
      for unit in getattr(self, f'sgcn{stage}'):
        spatial = unit(spatial)
      x = jax.nn.relu(spatial + getattr(self, f'gcn3d{stage}')(x))
      x = getattr(self, f'tcn{stage}')(x)
    return x


class MSG3DRecognizer(GCNRecognizer):
  """MS-G3D recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``.

  Arguments are MMAction2's ``MSG3D`` ones (``graph_cfg`` with ``mode`` or ``strategy``); ``edition``
  ('1.x' or 'pyskl') only names the checkpoint layout a converted model came from.
  """

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               base_channels: int = 96, num_gcn_scales: int = 13, num_g3d_scales: int = 6, num_person: int = 2,
               tcn_dropout: float = 0.0, head_dropout: float = 0.0, edition: str = '1.x', rngs: nnx.Rngs):
    self.edition = check_edition(edition)
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPH)
    self.backbone = MSG3DBackbone(adjacency, in_channels=in_channels, base_channels=base_channels,
                                  num_gcn_scales=num_gcn_scales, num_g3d_scales=num_g3d_scales,
                                  num_person=num_person, tcn_dropout=tcn_dropout, rngs=rngs)
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, rngs=rngs)


def check_edition(edition: str) -> str:
  """``edition`` if MS-G3D checkpoints come in that layout, else a ValueError naming the known ones."""
  if edition not in EDITIONS:
    raise ValueError(f'MS-G3D checkpoint edition must be one of {EDITIONS}, got {edition!r}')
  return edition


# ---------------------------------------------------------------------------------------------------------
# Checkpoint import (MMAction2 projects/msg3d and PySKL key names).
# ---------------------------------------------------------------------------------------------------------


def _window_conv_to_flax(weight: np.ndarray) -> np.ndarray:
  """Conv3d ``[O, C, 1, w, 1]`` -> the collapse conv's ``[1, 1, w * C, O]`` (channel ``j * C + c``)."""
  o, c, _, w, _ = weight.shape
  return weight.reshape(o, c, w).transpose(2, 1, 0).reshape(1, 1, w * c, o)


def _add_temporal_unit(key_map: KeyMap, prefix: str, path: tuple, unit: MSG3DTemporalConv) -> None:
  for i, branch in enumerate(unit.branches):
    p, q = f'{prefix}.branches.{i}', path + ('branches', i)
    key_map.add_conv(f'{p}.0', q + ('conv',))
    key_map.add_batchnorm(f'{p}.1', q + ('bn',))
    if hasattr(branch, 'tcn'):
      key_map.add_conv(f'{p}.3.conv', q + ('tcn', 'conv'))
      key_map.add_batchnorm(f'{p}.3.bn', q + ('tcn', 'bn'))
    elif hasattr(branch, 'bn_out'):
      key_map.add_batchnorm(f'{p}.4', q + ('bn_out',))
  if unit.residual is not None:
    key_map.add_conv(f'{prefix}.residual.conv', path + ('residual', 'conv'))
    key_map.add_batchnorm(f'{prefix}.residual.bn', path + ('residual', 'bn'))


def _add_graph_conv(key_map: KeyMap, prefix: str, path: tuple, unit) -> None:
  key_map.checks[f'{prefix}.A'] = np.asarray(unit.A[...])
  key_map.add(f'{prefix}.PA', path + ('PA',))
  key_map.add_conv(f'{prefix}.mlp.layers.0', path + ('conv',))
  key_map.add_batchnorm(f'{prefix}.mlp.layers.1', path + ('bn',))


def mmaction_key_map(model: MSG3DRecognizer, edition: str = '1.x', head_prefix: str | None = None) -> KeyMap:
  """MMAction2 ``projects/msg3d`` / PySKL state-dict keys -> ``model`` variables.

  ``head_prefix`` names the classifier (default: ``cls_head.fc``; PySKL ``cls_head.fc_cls``).
  """
  check_edition(edition)
  backbone = model.backbone
  key_map = KeyMap()
  key_map.checks['backbone.A'] = np.asarray(backbone.A[...])
  key_map.add_batchnorm('backbone.data_bn', ('backbone', 'data_bn', 'bn'))
  for stage in range(1, NUM_STAGES + 1):
    g3d, prefix = f'gcn3d{stage}', f'backbone.gcn3d{stage}.gcn3d'
    for i, pathway in enumerate(getattr(backbone, g3d).pathways):
      path = ('backbone', g3d, 'pathways', i)
      _add_graph_conv(key_map, f'{prefix}.{i}.gcn3d.1', path + ('gcn',), pathway.gcn)
      key_map.add(f'{prefix}.{i}.out_conv.weight', path + ('out_conv', 'kernel'), _window_conv_to_flax)
      key_map.add(f'{prefix}.{i}.out_conv.bias', path + ('out_conv', 'bias'))
      key_map.add_batchnorm(f'{prefix}.{i}.out_bn', path + ('out_bn',))
    sgcn = getattr(backbone, f'sgcn{stage}')
    _add_graph_conv(key_map, f'backbone.sgcn{stage}.0', ('backbone', f'sgcn{stage}', 0), sgcn[0])
    for i in (1, 2):
      _add_temporal_unit(key_map, f'backbone.sgcn{stage}.{i}', ('backbone', f'sgcn{stage}', i), sgcn[i])
    _add_temporal_unit(key_map, f'backbone.tcn{stage}', ('backbone', f'tcn{stage}'),
                       getattr(backbone, f'tcn{stage}'))
  add_classifier(key_map, head_prefix or ('cls_head.fc_cls' if edition == 'pyskl' else 'cls_head.fc'))
  return key_map


def import_mmaction_msg3d(model: MSG3DRecognizer, state_dict: dict[str, np.ndarray], edition: str | None = None,
                         source: str = 'checkpoint') -> None:
  """Loads an MMAction2 ``projects/msg3d`` or PySKL MS-G3D ``state_dict`` into ``model`` in place.

  Either classifier name is accepted. Raises ``CheckpointMismatchError`` listing every unknown, missing or
  mis-shaped key and every fixed graph (``*.A``) that differs from the model's.
  """
  if 'state_dict' in state_dict and isinstance(state_dict['state_dict'], dict):
    state_dict = state_dict['state_dict']
  edition = model.edition if edition is None else edition
  key_map = mmaction_key_map(model, edition, head_prefix=classifier_prefix(state_dict, source))
  load_state_dict_into(model, state_dict, key_map, source=source)
