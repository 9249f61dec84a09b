"""Aggregation over a skeleton graph's K subsets, as a batched matmul XLA:CPU runs without transposed copies."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def aggregate_subsets(y: jax.Array, adjacency: jax.Array) -> jax.Array:
  """``out[b, t, w, c] = sum_{k, v} y[b, t, v, k, c] * A[(b,) k, v, w]``: ``[B, T, V, K, C] -> [B, T, W, C]``.

  ``adjacency`` is one graph per subset ``[K, V, W]`` or one per sample too ``[B, K, V, W]``. Written as one
  batched matmul over the B * T frames (``[W, V * K] @ [V * K, C]`` each, the graph broadcast over frames):
  (v, k) are adjacent in ``y``'s layout, so neither the matmul nor its gradients transpose the activations,
  where XLA:CPU lowers the plain einsum through transposed copies (5% of an ST-GCN train step on 2 cores).
  """
  b, t, v, k, c = y.shape
  w = adjacency.shape[-1]
  if adjacency.ndim == 3:
    graph = jnp.broadcast_to(adjacency.transpose(2, 1, 0).reshape(1, w, v * k), (b * t, w, v * k))
  else:
    graph = adjacency.transpose(0, 3, 2, 1).reshape(b, 1, w, v * k)
    graph = jnp.broadcast_to(graph, (b, t, w, v * k)).reshape(b * t, w, v * k)
  out = jax.lax.dot_general(graph, y.reshape(b * t, v * k, c), (((2,), (1,)), ((0,), (0,))))
  return out.reshape(b, t, w, c)
