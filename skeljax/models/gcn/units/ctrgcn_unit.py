"""CTR-GCN's graph unit (Chen et al. 2021) as MMAction2 ``projects/ctrgcn`` (and PySKL) ``unit_ctrgcn`` / ``CTRGC``.

Channel-wise topology refinement, per subset k: ``x1, x2 = mean_T(conv1(x)), mean_T(conv2(x))`` (R = 8 if
C_in <= 16 else C_in // 8 relation channels), ``x3 = conv3(x)``; a per-sample, per-channel graph
``G[u, v, c] = conv4(tanh(x1[u] - x2[v]))[c] * alpha + A_k[u, v]`` aggregates ``x3``:
``out[t, v, c] = sum_u G[u, v, c] * x3[t, u, c]``. The unit sums the K subsets, then
``ReLU(BN(sum) + down(x))``. ``A`` (from the graph) and ``alpha`` (from 0) are learnable.

Init as the reference's init_cfg: every conv Kaiming fan_out with zero bias, BN weight 1 except the unit's
``bn`` at 1e-6 (each unit starts close to its residual path).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units import channel_graph
from skeljax.models.gcn.units.agcn_unit import Down
from skeljax.models.gcn.units.conv import conv2d


class CTRGC(nnx.Module):
  """One subset's channel-wise refined aggregation: ``[B, T, V, Ci] -> [B, T, V, Co]`` (``CTRGC``)."""

  def __init__(self, c_in: int, c_out: int, *, rel_reduction: int = 8, rngs: nnx.Rngs):
    rel = 8 if c_in <= 16 else c_in // rel_reduction
    self.conv1 = conv2d(c_in, rel, init='kaiming', rngs=rngs)
    self.conv2 = conv2d(c_in, rel, init='kaiming', rngs=rngs)
    self.conv3 = conv2d(c_in, c_out, init='kaiming', rngs=rngs)
    self.conv4 = conv2d(rel, c_out, init='kaiming', rngs=rngs)

  def graph(self, x: jax.Array, adjacency: jax.Array, alpha: jax.Array) -> jax.Array:
    """The refined graph of every sample and channel: ``[B, U, V, Co]``."""
    # conv1/conv2 are 1x1 (affine per joint), so they commute with the mean over T: apply them to the mean.
    x_mean = x.mean(axis=1, keepdims=True)  # [B, 1, V, Ci]
    x1, x2 = self.conv1(x_mean)[:, 0], self.conv2(x_mean)[:, 0]  # [B, V, R]
    relation = jnp.tanh(x1[:, :, None, :] - x2[:, None, :, :])  # [B, U, V, R]
    return self.conv4(relation) * alpha + adjacency[None, :, :, None]

  def __call__(self, x: jax.Array, adjacency: jax.Array, alpha: jax.Array) -> jax.Array:
    return jnp.einsum('buvc,btuc->btvc', self.graph(x, adjacency, alpha), self.conv3(x))

  def channel_first(self, x: jax.Array, adjacency: jax.Array, alpha: jax.Array) -> jax.Array:
    """The same values channel-first, ``[B, Co, T, V]``, in the ops ``units.channel_graph`` gives for training."""
    b, t, v, _ = x.shape
    kernel, bias = self.conv3.kernel[...][0, 0], self.conv3.bias[...]
    x, kernel, bias = self.conv3.promote_dtype((x, kernel, bias), dtype=self.conv3.dtype)
    x3 = channel_graph.pointwise_channel_first(x.reshape(b, t * v, -1), kernel).reshape(b, -1, t, v)
    graph = self.graph(x, adjacency, alpha).astype(x3.dtype).transpose(0, 3, 1, 2)  # [B, Co, U, V]
    return channel_graph.aggregate_per_channel(x3 + bias[:, None, None], graph)


class CTRGCNUnit(nnx.Module):
  """``unit_ctrgcn``: ``[B, T, V, Ci] -> [B, T, V, Co]``."""

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, rngs: nnx.Rngs):
    num_subsets = adjacency.shape[0]
    self.convs = nnx.List([CTRGC(c_in, c_out, rngs=rngs) for _ in range(num_subsets)])
    self.down = Down(c_in, c_out, init='kaiming', rngs=rngs) if c_in != c_out else None
    self.A = nnx.Param(jnp.asarray(adjacency, jnp.float32))
    self.alpha = nnx.Param(jnp.zeros((1,), jnp.float32))
    self.bn = layers.BatchNorm(c_out, scale_init=1e-6)

  def __call__(self, x: jax.Array) -> jax.Array:
    # Parameters are float32 masters: follow x's dtype so a bfloat16 step stays in bfloat16.
    adjacency, alpha = self.A[...].astype(x.dtype), self.alpha[...][0].astype(x.dtype)
    if self.bn.use_running_average:
      y = sum(conv(x, adjacency[k], alpha) for k, conv in enumerate(self.convs))
    else:  # training: the subsets summed channel-first, one transpose (``units.channel_graph``)
      y = sum(conv.channel_first(x, adjacency[k], alpha) for k, conv in enumerate(self.convs)).transpose(0, 2, 3, 1)
    residual = self.down(x) if self.down is not None else x
    return jax.nn.relu(self.bn(y) + residual)
