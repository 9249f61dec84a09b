"""ST-GCN's graph unit (``unit_gcn``): 1x1 conv to K subsets, aggregation over the graph, BN, ReLU."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import Adjacency, conv2d


class GraphConv(nnx.Module):
  """ST-GCN ``unit_gcn`` (conv first, learnable edge importance): ``[B, T, V, Ci] -> [B, T, V, Co]``.

  1x1 conv to K * Co channels in k-major order (channel ``k * Co + c``), then
  ``out[..., w, c] = sum_{k, v} x[..., v, k, c] * (A * PA)[k, v, w]``, then BN and ReLU. MMAction2 0.x puts
  this BN + ReLU at the head of its ``tcn``; the arithmetic is the same, only checkpoint names differ.
  """

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, edge_importance: bool = True,
               init: str = 'torch', rngs: nnx.Rngs):
    adjacency = np.asarray(adjacency, np.float32)
    self.num_subsets = adjacency.shape[0]
    self.c_out = c_out
    self.A = Adjacency(jnp.asarray(adjacency))
    # Edge importance starts at 1 (MMAction2 'importance'); without it A is used as is.
    self.PA = nnx.Param(jnp.ones(adjacency.shape, jnp.float32)) if edge_importance else None
    self.conv = conv2d(c_in, self.num_subsets * c_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out)

  def __call__(self, x: jax.Array) -> jax.Array:
    adjacency = self.A[...] if self.PA is None else self.A[...] * self.PA[...]
    y = self.conv(x)
    y = y.reshape(y.shape[:-1] + (self.num_subsets, self.c_out))
    # A is a float32 buffer: cast it so a bfloat16 step does not promote the aggregation back to float32.
    y = jnp.einsum('btvkc,kvw->btwc', y, adjacency.astype(y.dtype))
    return jax.nn.relu(self.bn(y))
