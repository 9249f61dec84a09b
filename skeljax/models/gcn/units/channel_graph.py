"""CTR-GCN's per-channel graph aggregation in a channel-first layout, for training on XLA:CPU.

Each CTR-GCN subset aggregates its 1x1 conv's output with a graph of its own per sample and channel:
``out[b, t, v, c] = sum_u x3[b, t, u, c] * G[b, u, v, c]``. With channels last this is a batched matmul whose
batch dimensions (b, c) are not the leading ones, so XLA:CPU transposes the activations into and out of it, in
the forward and the backward pass (most of the ~0.5 s of transposes in a CTR-GCN train step at batch 8). Here
the conv writes ``[B, C, T * V]`` directly (a batched matmul with the kernel on the left), the products run
over frames ``[T, U] @ [U, V]`` per (b, c) in that layout, and the unit sums its subsets there and transposes
once. Both ops have their gradients written out so that every product has a form XLA:CPU hands to YNNPACK:
autodiff would contract the graph's gradient over T, the leading dimension of both operands, in XLA's own dot.
Forward-only, the channel-last einsum is as fast or faster (eval step 0.556 vs 0.580 s at batch 8), so the
unit uses this in training only.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


@jax.custom_vjp
def pointwise_channel_first(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """A 1x1 conv whose output is channel-first: ``[B, N, Ci]``, ``[Ci, Co]`` -> ``[B, Co, N]`` (no bias)."""
  return jax.lax.dot_general(_per_sample(kernel.T, x.shape[0]), x, (((2,), (2,)), ((0,), (0,))))


def _per_sample(matrix: jax.Array, b: int) -> jax.Array:
  return jnp.broadcast_to(matrix, (b,) + matrix.shape)


def _pointwise_fwd(x, kernel):
  return pointwise_channel_first(x, kernel), (x, kernel)


def _pointwise_bwd(residuals, d_out):
  x, kernel = residuals
  # [B, Ci, N] as a plain product, then back to x's layout.
  d_x = jax.lax.dot_general(_per_sample(kernel, x.shape[0]), d_out, (((2,), (1,)), ((0,), (0,))))
  d_kernel = jax.lax.dot_general(d_out, x, (((2,), (1,)), ((0,), (0,)))).sum(0).T  # [B, Co, Ci] summed
  return d_x.transpose(0, 2, 1), d_kernel


pointwise_channel_first.defvjp(_pointwise_fwd, _pointwise_bwd)


@jax.custom_vjp
def aggregate_per_channel(x: jax.Array, graph: jax.Array) -> jax.Array:
  """``out[b, c, t, v] = sum_u x[b, c, t, u] * graph[b, c, u, v]``.

  ``[B, C, T, U]``, ``[B, C, U, V]`` -> ``[B, C, T, V]``.
  """
  return jax.lax.dot_general(x, graph, (((3,), (2,)), ((0, 1), (0, 1))))


def _aggregate_fwd(x, graph):
  return aggregate_per_channel(x, graph), (x, graph)


def _aggregate_bwd(residuals, d_out):
  x, graph = residuals
  d_x = jax.lax.dot_general(d_out, graph, (((3,), (3,)), ((0, 1), (0, 1))))  # [B, C, T, U]
  # The graph's gradient contracts over frames: with the cotangent's frames last, [V, T] @ [T, U] is a plain
  # product (the transposed copy is cheaper than XLA's own dot on the transposed operand).
  d_graph_t = jax.lax.dot_general(d_out.transpose(0, 1, 3, 2), x, (((3,), (2,)), ((0, 1), (0, 1))))  # [B, C, V, U]
  return d_x, d_graph_t.transpose(0, 1, 3, 2)


aggregate_per_channel.defvjp(_aggregate_fwd, _aggregate_bwd)
