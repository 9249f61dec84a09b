"""Temporal max pooling of the multi-scale temporal units (the ``max`` branch of MS-G3D's and DG-STGCN's TCNs)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def temporal_max_pool(x: jax.Array, *, kernel: int = 3, stride: int = 1, padding: int = 1) -> jax.Array:
  """PyTorch ``MaxPool2d((kernel, 1), (stride, 1), (padding, 0))`` over ``[B, T, V, C]``.

  Padding is -inf, as in PyTorch, so a padded frame never wins: ``[B, T, V, C] -> [B, T', V, C]`` with
  ``T' = (T + 2 * padding - kernel) // stride + 1``.
  """
  # A scalar -inf init with lax.max is what JAX lowers to its differentiable reduce_window_max (the gradient
  # goes to the window's maximum, as PyTorch's); an array init would be a generic, non-differentiable reduction.
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, kernel, 1, 1), (1, stride, 1, 1),
                               ((0, 0), (padding, padding), (0, 0), (0, 0)))
