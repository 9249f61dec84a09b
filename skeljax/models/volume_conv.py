"""``VolumeConv``: a 3-D convolution over ``[N, T, H, W, C]`` with ``nnx.Conv``'s parameters, lowered per kernel
shape into forms XLA:CPU runs and differentiates fast.

XLA:CPU's direct 3-D convolution is slow (a ``(1, 3, 3)`` conv at 14-54 GFLOP/s, its strided input gradient
about 10x slower again), while 2-D convolutions and matmuls go through the fast YNNPACK path. The forms:

- ``(1, 1, 1)``: a 1x1x1 convolution (a matmul), after subsampling when strided;
- ``(1, kh, kw)``: frames folded into the batch, one 2-D convolution; a spatial stride becomes a sum of unstrided
  convolutions over the input's stride phases (polyphase), so that no gradient is a strided convolution;
- ``(kt, 1, 1)``: one matmul to the kt taps' outputs, summed over shifted frames;
- a temporal stride with a 1-frame kernel subsamples frames first;
- anything else: ``nnx.Conv`` as is.

Same variables (``kernel [kT, kH, kW, Ci, Co]``, optional ``bias``) and the same arithmetic as ``nnx.Conv``; only
the order of summation differs (float32 rounding).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

_DN2 = ('NHWC', 'HWIO', 'NHWC')


def _pad_pairs(padding) -> tuple[tuple[int, int], ...]:
  if isinstance(padding, str):
    raise ValueError(f'VolumeConv needs explicit padding, got {padding!r}')
  return tuple((int(lo), int(hi)) for lo, hi in padding)


def polyphase_conv2d(x: jax.Array, kernel: jax.Array, strides: tuple[int, int],
                     padding: tuple[tuple[int, int], tuple[int, int]]) -> jax.Array:
  """A strided 2-D convolution ``[B, H, W, Ci] -> [B, Ho, Wo, Co]`` as a sum of unstrided ones.

  With stride s, kernel tap ``a = s * q + r`` only meets input rows ``s * j + r``: phase ``r`` of the padded input
  convolved (unstrided, 'VALID') with taps ``r, r + s, ...`` of the kernel, summed over phases, is the strided
  convolution. Forward and both gradients are then unstrided convolutions (XLA:CPU computes a strided
  convolution's input gradient as an input-dilated convolution, an order of magnitude slower).
  """
  (sh, sw), ((ph0, ph1), (pw0, pw1)) = strides, padding
  kh, kw = kernel.shape[:2]
  h, w = x.shape[1] + ph0 + ph1, x.shape[2] + pw0 + pw1
  ho, wo = (h - kh) // sh + 1, (w - kw) // sw + 1
  # Pad up to whole stride periods so every phase has the same length.
  xp = jnp.pad(x, ((0, 0), (ph0, ph1 + (-h) % sh), (pw0, pw1 + (-w) % sw), (0, 0)))
  y = None
  for rh in range(min(sh, kh)):
    for rw in range(min(sw, kw)):
      part = jax.lax.conv_general_dilated(xp[:, rh::sh, rw::sw], kernel[rh::sh, rw::sw], (1, 1), 'VALID',
                                          dimension_numbers=_DN2)[:, :ho, :wo]
      y = part if y is None else y + part
  return y


def per_sample_matmul(x: jax.Array, kernel: jax.Array) -> jax.Array:
  """``[N, ..., Ci] @ [Ci, Co] -> [N, ..., Co]`` as a matmul batched over the N samples.

  One product over all N * T * H * W rows would make XLA:CPU's matmul pack a copy of its whole input for the
  kernel gradient (77 MB at PoseC3D's 28 x 28 stage with batch 4), a block a worker thread's heap cannot keep:
  mapped afresh and faulted in on every call (170 k page faults per train step). Per sample, the copies are
  a quarter of that and are reused.
  """
  n, c_in = x.shape[0], x.shape[-1]
  x3 = x.reshape(n, -1, c_in)
  y = jax.lax.dot_general(x3, jnp.broadcast_to(kernel, (n,) + kernel.shape), (((2,), (1,)), ((0,), (0,))))
  return y.reshape(x.shape[:-1] + (kernel.shape[-1],))


def temporal_conv_by_matmul(x: jax.Array, kernel: jax.Array, padding: tuple[int, int]) -> jax.Array:
  """A ``(kt, 1, 1)`` convolution ``[N, T, H, W, Ci] -> [N, T', H, W, Co]`` as one matmul, then shifted sums.

  ``z = x @ [W_0 | ... | W_kt-1]`` is a single large matmul (and so are both of its gradients); output frame t is
  ``sum_j z_j[t + j - pad]``, an elementwise pass over shifted frames. XLA:CPU runs this faster than either a
  3-D convolution or a 1-D one over transposed (H, W)-major data (measured in BENCHMARKS.md).
  """
  kt, c_in, c_out = kernel.shape
  t_out = x.shape[1] + padding[0] + padding[1] - kt + 1
  z = per_sample_matmul(x, kernel.transpose(1, 0, 2).reshape(c_in, kt * c_out))
  z = jnp.pad(z.reshape(x.shape[:4] + (kt, c_out)), ((0, 0), padding, (0, 0), (0, 0), (0, 0), (0, 0)))
  y = z[:, 0:t_out, :, :, 0]
  for j in range(1, kt):
    y = y + z[:, j:j + t_out, :, :, j]
  return y


class VolumeConv(nnx.Conv):
  """``nnx.Conv`` over ``[N, T, H, W, C]`` (3 spatial dims), lowered per kernel shape (see the module docstring)."""

  def __call__(self, x: jax.Array) -> jax.Array:
    dilation = self.kernel_dilation
    dilated = dilation != 1 if isinstance(dilation, int) else any(d != 1 for d in dilation)
    if x.ndim != 5 or len(self.kernel_size) != 3 or dilated or self.feature_group_count != 1 or \
        isinstance(self.strides, int) or isinstance(self.padding, str):
      return super().__call__(x)
    kernel = self.kernel[...]
    bias = self.bias[...] if self.bias is not None else None
    x, kernel, bias = self.promote_dtype((x, kernel, bias), dtype=self.dtype)
    (kt, kh, kw), (st, sh, sw) = kernel.shape[:3], tuple(self.strides)
    (pt, ph, pw) = _pad_pairs(self.padding)
    if kt == 1 and pt == (0, 0) and st > 1:
      # A 1-frame kernel with a temporal stride reads every st-th frame.
      x, st = x[:, ::st], 1
    if (kt, kh, kw) == (1, 1, 1) and (ph, pw) == ((0, 0), (0, 0)) and st == 1:
      y = per_sample_matmul(x[:, :, ::sh, ::sw], kernel[0, 0, 0])
    elif kt == 1 and pt == (0, 0) and st == 1:
      n, t = x.shape[:2]
      x2 = x.reshape((n * t,) + x.shape[2:])
      if (sh, sw) == (1, 1):
        y2 = jax.lax.conv_general_dilated(x2, kernel[0], (1, 1), (ph, pw), dimension_numbers=_DN2)
      else:
        y2 = polyphase_conv2d(x2, kernel[0], (sh, sw), (ph, pw))
      y = y2.reshape((n, t) + y2.shape[1:])
    elif (kh, kw) == (1, 1) and (ph, pw) == ((0, 0), (0, 0)) and (sh, sw) == (1, 1) and st == 1:
      y = temporal_conv_by_matmul(x, kernel[:, 0, 0], pt)
    else:
      return super().__call__(x)
    return y if bias is None else y + bias
