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
from skeljax.models.gcn.units.conv import Adjacency, constant_init, conv2d, pointwise
from skeljax.models.gcn.units.aggregation import aggregate_subsets


class Down(nnx.Module):
  """The unit's own residual when channels change: 1x1 conv + BN (MMAction2 ``down.0`` / ``down.1``)."""

  def __init__(self, c_in: int, c_out: int, *, init: str, rngs: nnx.Rngs, bn_scale: float = 1.0):
    self.conv = conv2d(c_in, c_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out, scale_init=bn_scale)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn(self.conv(x))


def stacked_pointwise(x: jax.Array, convs, *, bias: bool = True) -> jax.Array:
  """The 1x1 convs ``convs`` (same input) as one matmul: ``[B, T, V, Ci] -> [B, T, V, len(convs), Co]``.

  Their kernels are concatenated in the forward pass; parameters and checkpoint layout stay one per conv.
  ``bias=False`` leaves the biases out (a caller that moves them past a linear map adds them there).
  """
  kernel = jnp.concatenate([conv.kernel[...][0, 0] for conv in convs], axis=-1)
  x, kernel = convs[0].promote_dtype((x, kernel), dtype=convs[0].dtype)
  y = pointwise(x, kernel)
  if bias and convs[0].bias is not None:
    y = y + jnp.concatenate([conv.bias[...] for conv in convs]).astype(y.dtype)
  return y.reshape(y.shape[:-1] + (len(convs), kernel.shape[-1] // len(convs)))


def adaptive_graph_conv(x: jax.Array, conv_a, conv_b, conv_d, graph_fn) -> jax.Array:
  """The (A)AGCN unit's aggregation ``sum_k conv_d[k](aggregate(x, graph_k))`` in few large ops.

  ``graph_fn(logits [B, K, V, W]) -> [B, K, V, W]`` turns the attention logits of every subset into the graphs
  (2s-AGCN: ``A + B + softmax``; AAGCN: ``A + alpha * tanh``). The convs run as stacked matmuls, and since a
  1x1 conv commutes with the aggregation over joints, ``conv_d`` goes first and its bias after: one batched
  matmul aggregates all subsets (``aggregation.aggregate_subsets``) instead of K transposing einsums.
  """
  theta = stacked_pointwise(x, conv_a)  # [B, T, V, K, inter]
  phi = stacked_pointwise(x, conv_b)
  _, t, _, _, c = theta.shape
  logits = jnp.einsum('btvkc,btwkc->bkvw', theta, phi) / (c * t)
  graph = graph_fn(logits)
  biases = [conv.bias for conv in conv_d]
  y = aggregate_subsets(stacked_pointwise(x, conv_d, bias=False), graph.astype(x.dtype))
  if biases[0] is not None:
    y = y + sum(bias[...] for bias in biases).astype(y.dtype)
  return y


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

    def graph_fn(logits):
      # The reference normalises over the source joint v (softmax dim -2 of [N, V, V]); float32 for stability
      # under bfloat16 (the aggregation casts back to x's dtype).
      return jax.nn.softmax(logits.astype(jnp.float32), axis=-2) + adjacency

    y = adaptive_graph_conv(x, self.conv_a, self.conv_b, self.conv_d, graph_fn)
    residual = self.down(x) if self.down is not None else x
    return jax.nn.relu(self.bn(y) + residual)
