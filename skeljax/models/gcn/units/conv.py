"""Convolutions and initialisers every GCN unit builds on: fixed-graph buffer, ``TimeConv``, ``conv2d``.

Activations are channel-last ``[B, T, V, C]`` with ``B = N * M`` (person index fastest, as in MMAction2).
A 2-D ``nnx.Conv`` over (T, V) keeps PyTorch's kernel layout one transpose away (``[kT, kV, I, O]``), so
checkpoints map tensor by tensor.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers


class Adjacency(nnx.Variable):
  """A fixed graph adjacency ``[K, V, V]``: state, but never trained (``nnx.Param`` filters skip it)."""


def zeros_init(key, shape, dtype=jnp.float32):
  """Bias init 0, as mmcv/mmengine Kaiming/Normal init leave it."""
  del key
  return jnp.zeros(shape, dtype)


def constant_init(value: float) -> nnx.Initializer:
  """Every element = ``value``."""

  def init(key, shape, dtype=jnp.float32):
    del key
    return jnp.full(shape, value, dtype)

  return init


def conv_branch_init(num_branches: int) -> nnx.Initializer:
  """2s-AGCN ``conv_branch_init``: N(0, 2 / (out * in * kT * branches)) for a ``[kT, kV, in, out]`` kernel."""

  def init(key, shape, dtype=jnp.float32):
    k_t, _, c_in, c_out = shape
    std = np.sqrt(2.0 / (c_out * c_in * k_t * num_branches))
    return std * jax.random.normal(key, shape, dtype)

  return init


class TimeConv(nnx.Conv):
  """``nnx.Conv`` with a ``(kT, 1)`` kernel over (T, V) and a stride in time only, computed in the forms that
  XLA:CPU differentiates fast: an unstrided 1x1 conv as a matmul, the others as ``(1, kT)`` convs over
  ``[B, V, T, C]``.

  Same parameters (``kernel [kT, 1, Ci, Co]``, ``bias``) and the same arithmetic as ``nnx.Conv``; only the
  lowering differs. Hand-written because XLA:CPU's gradients of the direct forms are slow (measured on 2
  cores: a (9, 1) conv's gradient 1.0 s vs 0.1 s transposed; a 1x1 conv's 143 ms vs 40 ms as a matmul; the
  ST-GCN train step at batch 16 x 32 frames 2.7 s -> 1.6 s). On GPU, XLA's layout assignment should absorb
  the transposes (not yet measured there: BENCHMARKS.md).
  """

  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.kernel[...]
    bias = self.bias[...] if self.bias is not None else None
    x, kernel, bias = self.promote_dtype((x, kernel, bias), dtype=self.dtype)
    stride, dilation = self.strides[0], self.kernel_dilation[0]
    if kernel.shape[:2] == (1, 1) and stride == 1:
      y = jnp.einsum('btvc,cd->btvd', x, kernel[0, 0])
    else:
      # Strided 1x1 convs (two residuals per network) stay convs: a strided slice's symbolic length
      # (floordiv(t + 1, 2)) would not match the conv branch's (floordiv(t - 1, 2) + 1) in a jax.export trace.
      y = jax.lax.conv_general_dilated(
          x.transpose(0, 2, 1, 3), kernel.transpose(1, 0, 2, 3), window_strides=(1, stride),
          padding=((0, 0), tuple(self.padding[0])), rhs_dilation=(1, dilation),
          dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
      y = y.transpose(0, 2, 1, 3)
    return y if bias is None else y + bias


def conv2d(c_in: int, c_out: int, *, rngs: nnx.Rngs, kernel: tuple[int, int] = (1, 1), stride: int = 1,
           dilation: int = 1, init: str = 'torch', kernel_init: nnx.Initializer | None = None) -> nnx.Conv:
  """A PyTorch-style Conv2d over (T, V) with bias; ``init`` 'torch' (PyTorch default) or 'kaiming' (fan_out).

  Padding is symmetric ``dilation * (kT - 1) / 2`` in time and 0 over joints, as every GCN conv in MMAction2
  (``unit_tcn`` pads ``(k + (k - 1) * (d - 1) - 1) // 2``, the same number for odd k).
  """
  fan_in = c_in * kernel[0] * kernel[1]
  if init == 'torch':
    k_init, b_init = layers.torch_default_kernel_init(), layers.torch_default_bias_init(fan_in)
  elif init == 'kaiming':
    k_init, b_init = layers.kaiming_normal_fan_out(), zeros_init
  else:
    raise ValueError(f"conv init must be 'torch' or 'kaiming', got {init!r}")
  if kernel_init is not None:
    k_init, b_init = kernel_init, zeros_init
  pad_t = (kernel[0] + (kernel[0] - 1) * (dilation - 1) - 1) // 2
  if kernel[1] != 1:
    raise ValueError(f'GCN convs have a (kT, 1) kernel, got {kernel}')
  return TimeConv(c_in, c_out, kernel, strides=(stride, 1), padding=((pad_t, pad_t), (0, 0)),
                  kernel_dilation=(dilation, 1), kernel_init=k_init, bias_init=b_init, rngs=rngs)


def check_adjacency(adjacency: np.ndarray) -> np.ndarray:
  """Validates a ``[K, V, V]`` adjacency and returns it as float32."""
  adjacency = np.asarray(adjacency, np.float32)
  if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
    raise ValueError(f'graph adjacency must be [K, V, V], got shape {adjacency.shape}')
  return adjacency
