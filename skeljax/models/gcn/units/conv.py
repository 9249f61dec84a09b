"""Convolutions and initialisers every GCN unit builds on: fixed-graph buffer, ``TimeConv``, ``conv2d``.

Activations are channel-last ``[B, T, V, C]`` with ``B = N * M`` (person index fastest, as in MMAction2).
A 2-D ``nnx.Conv`` over (T, V) keeps PyTorch's kernel layout one transpose away (``[kT, kV, I, O]``), so
checkpoints map tensor by tensor.
"""

from __future__ import annotations

import functools

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
  XLA:CPU runs fast: an unstrided 1x1 conv as a matmul, a strided one as a subsample and a matmul, a temporal
  kernel as a ``(k, 1)`` convolution on ``[B, T, V, C]`` as it is (polyphase when strided, ``temporal_conv1d``).

  Same parameters (``kernel [kT, 1, Ci, Co]``, ``bias``) and the same arithmetic as ``nnx.Conv``; only the
  lowering differs. Hand-written because XLA:CPU's gradients of the direct forms were slow (measured on 2
  cores: a (9, 1) conv's gradient 1.0 s vs 0.1 s transposed, with the convolutions in YNNPACK, before
  ``runtime.set_cpu_compiler_options``; a 1x1 conv's 143 ms vs 40 ms as a matmul). With XLA's own
  convolution kernels the ``(9, 1)`` form on ``[B, T, V, C]`` is the fastest in training and in eval alike, with
  no transposes around it: against a 1-D conv over ``[B * V, T, C]``, AAGCN's train step -2.3 % and ST-GCN's
  -3.4 %, their eval steps -5 to -6 % and -2 to -4 % (once ``GCNHead`` reads its input materialised in eval). On
  GPU, XLA's layout assignment should make the forms equal (not yet measured there: BENCHMARKS.md).
  """

  def __call__(self, x: jax.Array) -> jax.Array:
    kernel = self.kernel[...]
    x, kernel = self.promote_dtype((x, kernel), dtype=self.dtype)
    stride, dilation = self.strides[0], self.kernel_dilation[0]
    if kernel.shape[:2] == (1, 1) and stride == 1:
      y = pointwise(x, kernel[0, 0])
    elif kernel.shape[:2] == (1, 1):
      # A strided 1x1 conv reads frames 0, s, 2s, ...: subsample, then a matmul (XLA:CPU's strided-conv
      # gradients are slow). The slice's end is written from the conv length formula so that, in a symbolic-T
      # jax.export trace, its length is the same expression as the strided temporal branch's it is added to.
      t_out = (x.shape[1] - 1) // stride + 1
      x = jax.lax.slice_in_dim(x, 0, stride * (t_out - 1) + 1, stride, axis=1)
      y = pointwise(x, kernel[0, 0])
    else:
      y = temporal_conv1d(x, kernel[:, 0], stride, tuple(self.padding[0]), dilation)
    return y if self.bias is None else y + self.bias[...].astype(y.dtype)


def pointwise(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """A 1x1 conv ``[..., Ci] @ [Ci, Co]`` as one 2-D matmul over the flattened leading axes.

  The same product as ``einsum('btvc,cd->btvd')``, but its kernel gradient contracts one axis instead of three,
  which XLA:CPU computes without transposed copies of the activations (2-4x faster on 2 cores).
  """
  y = x.reshape(-1, x.shape[-1]) @ kernel
  return y.reshape(x.shape[:-1] + (kernel.shape[-1],))


def stacked_pointwise(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """K 1x1 convs of one input as one matmul: ``[..., Ci] @ [Ci, K, Co] -> [..., K, Co]``."""
  y = pointwise(x, kernel.reshape(kernel.shape[0], -1))
  return y.reshape(y.shape[:-1] + kernel.shape[1:])


def temporal_conv1d(x: jax.Array, kernel: jax.Array, stride: int, padding: tuple[int, int],
                    dilation: int = 1) -> jax.Array:
  """A convolution over time ``[N, T, V, Ci] -> [N, T', V, Co]`` (a ``(k, 1)`` conv, V untouched) with a
  ``[k, Ci, Co]`` kernel; a stride is polyphase.

  With stride s, tap ``a`` of output ``i`` reads padded frame ``s * i + a * d``: frames of one residue
  ``r = a * d mod s`` form one phase, and each phase is an unstrided (possibly dilated) convolution with the
  taps that read it. Summed over phases that is the strided convolution, and its gradients are unstrided
  convolutions (XLA:CPU computes a strided convolution's input gradient as an input-dilated one, several
  times slower).
  """
  k = kernel.shape[0]
  if stride == 1:
    return _conv1d_unstrided(x, kernel, padding, dilation)
  total = x.shape[1] + padding[0] + padding[1]
  t_out = (total - dilation * (k - 1) - 1) // stride + 1
  # Pad to whole stride periods so every phase has the same length.
  xp = jnp.pad(x, ((0, 0), (padding[0], padding[1] + (-total) % stride), (0, 0), (0, 0)))
  y = None
  for r in range(stride):
    taps = [a for a in range(k) if (a * dilation) % stride == r]
    if not taps:
      continue
    # Taps of one phase are evenly spaced: a step of s / gcd(s, d) taps reads every (step * d / s)-th frame.
    step = taps[1] - taps[0] if len(taps) > 1 else 1
    phase_dilation = step * dilation // stride if len(taps) > 1 else 1
    first = (taps[0] * dilation) // stride
    # Each phase is materialised (a division by a runtime 1): XLA:CPU otherwise fused the strided slice into the
    # [C, T, N] copy it makes of the phase for the kernel gradient, a copy that then took 20-25 ms on one thread
    # (AAGCN's stride-2 convs at batch 8) against ~2.5 ms for a contiguous input of the same size.
    phase = layers.unfused(xp[:, r::stride][:, first:], kernel)
    part = _conv1d_unstrided(phase, kernel[taps[0]:taps[-1] + 1:step], (0, 0), phase_dilation)
    part = part[:, :t_out]
    y = part if y is None else y + part
  return y


def _conv1d_unstrided(x: jax.Array, kernel: jax.Array, padding: tuple[int, int], dilation: int) -> jax.Array:
  """``[N, T, V, Ci] -> [N, T', V, Co]``, stride 1, with a sequence shorter than the kernel's span padded
  beforehand.

  XLA swaps the operands of a convolution whose input has fewer frames than its kernel spans, and XLA:CPU runs
  the swapped form through a slow generic loop: a 9-tap conv over 8 frames (the last ST-GCN stage of a 32-frame
  clip) took 2.3 s forward + backward against 0.1 s over 13 frames. Padding such an input explicitly, behind an
  optimisation barrier so that XLA does not fold the zeros back into the convolution's padding (and the output
  to the span, for the input gradient), keeps the direct forms; the values are the same.
  """
  span = dilation * (kernel.shape[0] - 1) + 1
  t_out = x.shape[1] + padding[0] + padding[1] - span + 1
  kernel = kernel[:, None]  # [k, 1, Ci, Co]
  conv = functools.partial(jax.lax.conv_general_dilated, window_strides=(1, 1), rhs_dilation=(dilation, 1),
                           dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  if not isinstance(t_out, int) or min(x.shape[1], t_out) >= span:  # symbolic lengths (jax.export) as they are
    return conv(x, kernel, padding=(padding, (0, 0)))
  # The input gradient convolves the output's gradient with the kernel: that sequence is made long enough too.
  extra = max(0, span - t_out)
  x = jax.lax.optimization_barrier(jnp.pad(x, ((0, 0), (padding[0], padding[1] + extra), (0, 0), (0, 0))))
  y = conv(x, kernel, padding='VALID')
  return jax.lax.optimization_barrier(y)[:, :t_out] if extra else y


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
