"""2s-AGCN's adaptive graph unit as in MMAction2 0.x (``AGCNUnit``), with the pieces AAGCN reuses.

Per subset k: ``S_k = softmax_v(theta(x) . phi(x) / (inter * T))``; aggregate x with ``A_k + B_k + S_k``
(A fixed, B learnable), 1x1 ``conv_d``; then ``ReLU(BN(sum_k) + down(x))``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import Adjacency, constant_init, conv2d


class Down(nnx.Module):
  """The unit's own residual when channels change: 1x1 conv + BN (MMAction2 ``down.0`` / ``down.1``)."""

  def __init__(self, c_in: int, c_out: int, *, init: str, rngs: nnx.Rngs, bn_scale: float = 1.0):
    self.conv = conv2d(c_in, c_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out, scale_init=bn_scale)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn(self.conv(x))


def attention_logits(theta: jax.Array, phi: jax.Array) -> jax.Array:
  """``sum_{t, c} theta[b, t, v, c] * phi[b, t, w, c] / (C * T)``: ``[B, T, V, C] x2 -> [B, V, V]``."""
  _, t, _, c = theta.shape
  return jnp.einsum('btvc,btwc->bvw', theta, phi) / (c * t)


def aggregate(x: jax.Array, adjacency: jax.Array) -> jax.Array:
  """``out[b, t, w, c] = sum_v x[b, t, v, c] * adj[b, v, w]``."""
  return jnp.einsum('btvc,bvw->btwc', x, adjacency)


class AGCNUnit(nnx.Module):
  """0.x adaptive graph conv: ``[B, T, V, Ci] -> [B, T, V, Co]``."""

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, coff_embedding: int = 4,
               rngs: nnx.Rngs):
    num_subsets = adjacency.shape[0]
    inter = c_out // coff_embedding
    self.A = Adjacency(jnp.asarray(adjacency, jnp.float32))
    self.PA = nnx.Param(constant_init(1e-6)(None, adjacency.shape))
    self.conv_a = nnx.List([conv2d(c_in, inter, rngs=rngs) for _ in range(num_subsets)])
    self.conv_b = nnx.List([conv2d(c_in, inter, rngs=rngs) for _ in range(num_subsets)])
    self.conv_d = nnx.List([conv2d(c_in, c_out, rngs=rngs) for _ in range(num_subsets)])
    self.down = Down(c_in, c_out, init='torch', rngs=rngs) if c_in != c_out else None
    self.bn = layers.BatchNorm(c_out)

  def __call__(self, x: jax.Array) -> jax.Array:
    adjacency = self.A[...] + self.PA[...]
    y = 0.0
    for k, (conv_a, conv_b, conv_d) in enumerate(zip(self.conv_a, self.conv_b, self.conv_d)):
      # The reference normalises over the source joint v (softmax dim -2 of [N, V, V]); float32 for stability
      # under bfloat16, then back to x's dtype (A is a float32 buffer) so the aggregation runs in that dtype.
      s = jax.nn.softmax(attention_logits(conv_a(x), conv_b(x)).astype(jnp.float32), axis=-2)
      y = y + conv_d(aggregate(x, (s + adjacency[k]).astype(x.dtype)))
    residual = self.down(x) if self.down is not None else x
    return jax.nn.relu(self.bn(y) + residual)
