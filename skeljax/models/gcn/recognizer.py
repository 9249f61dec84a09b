"""What the three GCN recognizers share: graph resolution and the clip-folding forward pass."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models.gcn import graph as graph_lib
from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead

EDITIONS = ('1.x', '0.x')


def build_graph(graph_cfg: Mapping | None, default: Mapping) -> np.ndarray:
  """Adjacency ``[K, V, V]`` from ``{'layout', 'strategy' (or 1.x 'mode'), 'max_hop', 'dilation'}``.

  Strategy names are the 1.x ones (``stgcn_spatial``, ``spatial``; see ``skeljax.models.gcn.graph``): a 0.x
  config's ``strategy='spatial'`` is ``stgcn_spatial`` here, and its ``'agcn'`` is ``spatial``.
  """
  cfg = dict(default if graph_cfg is None else graph_cfg)
  if 'mode' in cfg:
    if 'strategy' in cfg and cfg['strategy'] != cfg['mode']:
      raise ValueError(f'graph_cfg gives both strategy={cfg["strategy"]!r} and mode={cfg["mode"]!r}')
    cfg['strategy'] = cfg.pop('mode')
  unknown = set(cfg) - {'layout', 'strategy', 'max_hop', 'dilation'}
  if unknown or 'layout' not in cfg or 'strategy' not in cfg:
    raise ValueError(f'graph_cfg needs layout and strategy (optional max_hop, dilation); got {sorted(cfg)}')
  return graph_lib.build_adjacency(cfg['layout'], cfg['strategy'], int(cfg.get('max_hop', 1)),
                                   int(cfg.get('dilation', 1)))


def check_edition(edition: str) -> str:
  """``edition`` if it is a known MMAction2 edition, else a ValueError naming the known ones."""
  if edition not in EDITIONS:
    raise ValueError(f'edition must be one of {EDITIONS}, got {edition!r}')
  return edition


class GCNRecognizer(nnx.Module):
  """Backbone + head over clips: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]`` float32 raw scores.

  Compute follows the input's and parameters' dtype (a bfloat16 train step casts both); BatchNorm statistics
  are float32 whatever that dtype is.
  """

  backbone: GCNBackbone
  cls_head: GCNHead

  def _fold(self, x: jax.Array) -> tuple[jax.Array, tuple[int, int], int]:
    if x.ndim != 6:
      raise ValueError(f'GCN recognizer input must be [N, clips, M, T, V, C], got shape {x.shape}')
    n, clips, m = x.shape[:3]
    return x.reshape((n * clips,) + x.shape[2:]), (n, clips), m

  def features(self, x: jax.Array) -> jax.Array:
    """Pooled feature the classifier sees: ``[N, clips, M, T, V, C] -> [N, clips, 256]`` float32."""
    x, (n, clips), m = self._fold(x)
    pooled = self.cls_head.pool(self.backbone(x), m)
    return pooled.reshape(n, clips, -1).astype(jnp.float32)

  def __call__(self, x: jax.Array) -> jax.Array:
    x, (n, clips), m = self._fold(x)
    scores = self.cls_head(self.backbone(x), m)
    return scores.reshape(n, clips, -1).astype(jnp.float32)
