"""2s-AGCN's adaptive graph unit as in MMAction2 0.x (``AGCNUnit``), with the pieces AAGCN reuses.

Per subset k: ``S_k = softmax_v(theta(x) . phi(x) / (inter * T))``; aggregate x with ``A_k + B_k + S_k``
(A fixed, B learnable), 1x1 ``conv_d``; then ``ReLU(BN(sum_k) + down(x))``.
"""

from __future__ import annotations

import functools
import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers, recompute
from skeljax.models.gcn.units.conv import Adjacency, constant_init, conv2d, stacked_pointwise
from skeljax.models.gcn.units.aggregation import convolve_and_aggregate


class Down(nnx.Module):
  """The unit's own residual when channels change: 1x1 conv + BN (MMAction2 ``down.0`` / ``down.1``)."""

  def __init__(self, c_in: int, c_out: int, *, init: str, rngs: nnx.Rngs, bn_scale: float = 1.0):
    self.conv = conv2d(c_in, c_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out, scale_init=bn_scale)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn(self.conv(x))


def stacked_kernels(x: jax.Array, convs) -> tuple[jax.Array, jax.Array, jax.Array | None]:
  """The 1x1 convs ``convs`` (same input) as one matmul's operands: ``x``, ``[Ci, len(convs), Co]``, ``[len, Co]``.

  Their kernels are stacked in the forward pass; parameters and checkpoint layout stay one per conv. ``x`` and
  the kernel come back in the convs' compute dtype; the bias (None without) in its own.
  """
  kernel = jnp.stack([conv.kernel[...][0, 0] for conv in convs], axis=1)
  x, kernel = convs[0].promote_dtype((x, kernel), dtype=convs[0].dtype)
  bias = jnp.stack([conv.bias[...] for conv in convs]) if convs[0].bias is not None else None
  return x, kernel, bias


def _embeddings(x: jax.Array, kernel_a: jax.Array, bias_a: jax.Array, kernel_b: jax.Array, bias_b: jax.Array,
                one_matmul: bool) -> tuple[jax.Array, jax.Array]:
  """theta and phi ``[B, T, V, K, inter]``: the 1x1 convs ``[Ci, K, inter]`` with their biases ``[K, inter]``.

  ``one_matmul`` computes both in one product (training). Its kernel gradient is then one product of depth
  ``B * T * V`` over ``2 K * inter`` columns instead of two half as wide, which XLA:CPU's dot ran at 43-45
  GFLOP/s on one core, reading x from memory for each (AAGCN train step -1.4 to -2.6 %). In eval the two
  products stay apart: the logits' relayout copies of the joint output's halves ran slower than those of two
  outputs (eval step +2.5 %; BENCHMARKS.md).
  """
  if one_matmul:
    k = kernel_a.shape[1]
    # The biases go on before the split: added to each half after it, the step's gain was gone (measured).
    both = stacked_pointwise(x, jnp.concatenate([kernel_a, kernel_b], axis=1))
    both = both + jnp.concatenate([bias_a, bias_b]).astype(x.dtype)
    return both[..., :k, :], both[..., k:, :]
  return (stacked_pointwise(x, kernel_a) + bias_a.astype(x.dtype),
          stacked_pointwise(x, kernel_b) + bias_b.astype(x.dtype))


def _attention_logits_kept(x: jax.Array, kernel_a: jax.Array, bias_a: jax.Array, kernel_b: jax.Array,
                           bias_b: jax.Array, one_matmul: bool = False) -> jax.Array:
  """``[B, K, V, W]``: ``theta . phi / (inter * T)`` per subset, theta / phi the 1x1 convs ``[Ci, K, inter]``."""
  theta, phi = _embeddings(x, kernel_a, bias_a, kernel_b, bias_b, one_matmul)
  _, t, _, _, c = theta.shape
  return jnp.einsum('btvkc,btwkc->bkvw', theta, phi) / (c * t)


# What the unit's backward pass needs, beside x: theta and phi (in the layout of the logits' product) for the
# graph's attention term, the conv_d outputs (K * Co channels a joint, the largest activations of the unit; the
# aggregated input, K * Ci, where Ci < Co) for the graph gradient, and the graph broadcast over frames for the
# aggregation. For units with few input channels these are recomputed from x and the weights when the backward
# pass reaches the unit instead of kept: the recomputation costs 2 * Ci FLOPs a value it frees (AAGCN at batch 8,
# the units of the 100-frame stage: train-step temporaries 1458 -> 1137 MB for ~4 % of the step; every unit:
# 1029 MB for +7 %; BENCHMARKS.md).
RECOMPUTE_MAX_IN_CHANNELS = 64
_attention_logits = {
    one_matmul: recompute.recompute_in_backward(
        functools.partial(_attention_logits_kept, one_matmul=one_matmul), tied=(1, 2, 3, 4))
    for one_matmul in (False, True)}
_convolve_and_aggregate = recompute.recompute_in_backward(convolve_and_aggregate, tied=(1, 2))


def adaptive_graph_conv(x: jax.Array, conv_a, conv_b, conv_d, graph_fn, training: bool = False) -> jax.Array:
  """The (A)AGCN unit's aggregation ``sum_k conv_d[k](aggregate(x, graph_k))`` in few large ops.

  ``graph_fn(logits [B, K, V, W]) -> [B, K, V, W]`` turns the attention logits of every subset into the graphs
  (2s-AGCN: ``A + B + softmax``; AAGCN: ``A + alpha * tanh``). The convs run as stacked matmuls, and since a
  1x1 conv commutes with the aggregation over joints, ``conv_d``'s bias goes after it and the order of conv and
  aggregation is the cheaper one (``aggregation.convolve_and_aggregate``): one batched matmul aggregates all
  subsets instead of K transposing einsums. ``training``: theta and phi in one matmul (``_embeddings``).
  """
  recomputed = x.shape[-1] <= RECOMPUTE_MAX_IN_CHANNELS
  x_a, kernel_a, bias_a = stacked_kernels(x, conv_a)
  _, kernel_b, bias_b = stacked_kernels(x, conv_b)
  if bias_a is None:  # adding zeros keeps one form; the values are the same
    bias_a, bias_b = jnp.zeros(kernel_a.shape[1:], x_a.dtype), jnp.zeros(kernel_b.shape[1:], x_a.dtype)
  if recomputed:
    logits = _attention_logits[training](x_a, kernel_a, bias_a, kernel_b, bias_b)
  else:
    logits = _attention_logits_kept(x_a, kernel_a, bias_a, kernel_b, bias_b, one_matmul=training)
  graph = graph_fn(logits)
  x_d, kernel_d, bias_d = stacked_kernels(x, conv_d)
  y = (_convolve_and_aggregate if recomputed else convolve_and_aggregate)(x_d, kernel_d, graph.astype(x_d.dtype))
  if bias_d is not None:
    y = y + sum(bias_d).astype(y.dtype)
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

    y = adaptive_graph_conv(x, self.conv_a, self.conv_b, self.conv_d, graph_fn,
                            training=not self.bn.use_running_average)
    residual = self.down(x) if self.down is not None else x
    return jax.nn.relu(self.bn(y) + residual)
