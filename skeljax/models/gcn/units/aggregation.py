"""Aggregation over a skeleton graph's K subsets, as a batched matmul XLA:CPU runs without transposed copies."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from skeljax.models import layers
from skeljax.models.gcn.units.conv import pointwise, stacked_pointwise


def convolve_and_aggregate(x: jax.Array, kernel: jax.Array, adjacency: jax.Array) -> jax.Array:
  """A graph unit's ``sum_k aggregate(x @ kernel[:, k], A_k)``: ``[B, T, V, Ci]``, ``[Ci, K, Co]`` and a graph
  ``[(B,) K, V, W]`` -> ``[B, T, W, Co]`` (no bias).

  A 1x1 conv commutes with the aggregation over joints, so the order is free; the cheaper one is taken. With
  fewer input than output channels the input is aggregated first (as MMAction2's 2s-AGCN unit does) and the
  ``K * Ci`` result convolved: the per-frame graph products, which XLA:CPU runs far below the machine's matmul
  rate, then carry Ci instead of Co channels (the first unit: 3 instead of 64), and the intermediate is
  ``K * Ci`` instead of ``K * Co`` wide (ST-GCN / AAGCN train step -3.6 % / -2.4 %, eval -4 % / -1.3 %;
  BENCHMARKS.md). Otherwise the conv goes first, to ``K * Co`` channels, and one matmul aggregates them all.
  """
  c_in, k, c_out = kernel.shape
  if c_in < c_out:
    z = aggregate_joints(x, adjacency)  # [B, T, W, K, Ci]
    return pointwise(z.reshape(z.shape[:-2] + (k * c_in,)), kernel.transpose(1, 0, 2).reshape(k * c_in, c_out))
  return aggregate_subsets(stacked_pointwise(x, kernel), adjacency)


def aggregate_subsets(y: jax.Array, adjacency: jax.Array) -> jax.Array:
  """``out[b, t, w, c] = sum_{k, v} y[b, t, v, k, c] * A[(b,) k, v, w]``: ``[B, T, V, K, C] -> [B, T, W, C]``.

  ``adjacency`` is one graph per subset ``[K, V, W]`` or one per sample too ``[B, K, V, W]``. Written as one
  batched matmul over the B * T frames (``[W, V * K] @ [V * K, C]`` each, the graph broadcast over frames):
  (v, k) are adjacent in ``y``'s layout, so neither the matmul nor its gradients transpose the activations,
  where XLA:CPU lowers the plain einsum through transposed copies (5% of an ST-GCN train step on 2 cores).
  """
  b, t, v, k, c = y.shape
  w = adjacency.shape[-1]
  # [(B,) W, V * K]: one row of the frame's matmul per target joint.
  graph = (adjacency.transpose(2, 1, 0) if adjacency.ndim == 3 else adjacency.transpose(0, 3, 2, 1)).reshape(
      adjacency.shape[:-3] + (w, v * k))
  out = _frame_matmul(graph, y.reshape(b, t, v * k, c))
  return out.reshape(b, t, w, c)


def aggregate_joints(x: jax.Array, adjacency: jax.Array) -> jax.Array:
  """``out[b, t, w, k, c] = sum_v x[b, t, v, c] * A[(b,) k, v, w]``: ``[B, T, V, C] -> [B, T, W, K, C]``.

  Every subset's aggregation of x, side by side per joint (``(k, c)`` adjacent, ready for a 1x1 conv over
  ``K * C`` channels); one batched matmul over the frames (``[W * K, V] @ [V, C]`` each).
  """
  b, t, v, c = x.shape
  k, w = adjacency.shape[-3], adjacency.shape[-1]
  graph = (adjacency.transpose(2, 0, 1) if adjacency.ndim == 3 else adjacency.transpose(0, 3, 1, 2)).reshape(
      adjacency.shape[:-3] + (w * k, v))
  return _frame_matmul(graph, x).reshape(b, t, w, k, c)


def _per_frame(graph: jax.Array, b: int, t: int) -> jax.Array:
  """``[W, N]`` or ``[B, W, N]`` broadcast to every frame: ``[B * T, W, N]``."""
  if graph.ndim == 2:
    return jnp.broadcast_to(graph, (b * t,) + graph.shape)
  return jnp.broadcast_to(graph[:, None], (b, t) + graph.shape[1:]).reshape((b * t,) + graph.shape[1:])


def _frame_matmul_plain(graph: jax.Array, y: jax.Array) -> jax.Array:
  """``out[b, t] = graph[(b)] @ y[b, t]``: ``[(B,) W, N]``, ``[B, T, N, C]`` -> ``[B * T, W, C]``."""
  b, t, n, c = y.shape
  return jax.lax.dot_general(_per_frame(graph, b, t), y.reshape(b * t, n, c), (((2,), (1,)), ((0,), (0,))))


@jax.custom_vjp
def _frame_matmul(graph: jax.Array, y: jax.Array) -> jax.Array:
  """``_frame_matmul_plain`` whose input gradient multiplies by the transposed graph broadcast in that layout.

  Autodiff computes ``y``'s gradient as the per-frame product with the broadcast graph's transpose, a matmul
  with a transposed left operand, which XLA:CPU runs in its own dot instead of YNNPACK (0.10-0.13 s of a GCN
  train step at batch 8); transposing the small graph first makes it a plain product.
  """
  return _frame_matmul_plain(graph, y)


def _frame_matmul_fwd(graph, y):
  return _frame_matmul_plain(graph, y), (graph, y)


def _frame_matmul_bwd(residuals, d_out):
  graph, y = residuals
  b, t, n, c = y.shape
  d_y = jax.lax.dot_general(_per_frame(jnp.swapaxes(graph, -1, -2), b, t), d_out, (((2,), (1,)), ((0,), (0,))))
  d_frames = jax.lax.dot_general(d_out, y.reshape(b * t, n, c), (((2,), (2,)), ((0,), (0,))))  # [B * T, W, N]
  if graph.ndim == 3:
    # Per-sample graphs: the products are divided by a runtime 1 per frame before they are summed over each
    # sample's frames. Fused as product + reshape + sum, XLA:CPU's YNNPACK fusion ran on one thread and 1.6x
    # slower even there (9.5 ms for [B * T, 25, 75] products of depth 64 at B 16, T 100); with an elementwise
    # op on the product in its own shape it runs on every thread (3.1 ms, same bits). One element per sample:
    # a per-sample graph is split over devices with the batch, each shard reads its own.
    one = jnp.repeat(layers.runtime_one(graph[:, 0, 0]), t)[:, None, None].astype(d_frames.dtype)
    d_graph = (d_frames / one).reshape((b, t) + d_frames.shape[1:]).sum(1)
  else:
    d_graph = d_frames.sum(0)  # one graph: no reshape before the sum, the fusion runs on every thread
  return d_graph.astype(graph.dtype), d_y.reshape(y.shape)


_frame_matmul.defvjp(_frame_matmul_fwd, _frame_matmul_bwd)
