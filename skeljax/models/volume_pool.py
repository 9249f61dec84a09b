"""Spatial max pooling over ``[N, T, H, W, C]`` with PyTorch's gradient and a form XLA:CPU runs fast.

``nnx.max_pool``'s gradient lowers to XLA's select-and-scatter, which XLA:CPU runs as an index-tuple
reduce-window plus a scatter: about a second per PoseC3D train step on 2 cores for a 3x3 stride-1 pool. Written
as a maximum over the window's shifted views it is a few elementwise passes, forward and backward. The gradient
goes to the first maximal element of each window in row-major order, as PyTorch's ``MaxPool3d`` routes it.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp


def _taps(xp: jax.Array, window: tuple[int, int], strides: tuple[int, int], out_hw: tuple[int, int]):
  """The window's shifted, strided views of the padded input, in row-major tap order."""
  (kh, kw), (sh, sw), (ho, wo) = window, strides, out_hw
  for i in range(kh):
    for j in range(kw):
      yield (i, j), jax.lax.slice(xp, (0, 0, i, j, 0), (xp.shape[0], xp.shape[1], i + sh * (ho - 1) + 1,
                                                         j + sw * (wo - 1) + 1, xp.shape[4]), (1, 1, sh, sw, 1))


def _geometry(x_shape, window, strides, padding):
  (kh, kw), (sh, sw), ((ph0, ph1), (pw0, pw1)) = window, strides, padding
  ho = (x_shape[2] + ph0 + ph1 - kh) // sh + 1
  wo = (x_shape[3] + pw0 + pw1 - kw) // sw + 1
  return ho, wo


def _pad(x, padding, value):
  ((ph0, ph1), (pw0, pw1)) = padding
  return jnp.pad(x, ((0, 0), (0, 0), (ph0, ph1), (pw0, pw1), (0, 0)), constant_values=value)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1, 2, 3))
def spatial_max_pool(x: jax.Array, window: tuple[int, int], strides: tuple[int, int],
                     padding: tuple[tuple[int, int], tuple[int, int]]) -> jax.Array:
  """Max over ``window`` (H, W) with ``strides`` and ``padding`` (padded with -inf): ``[N, T, H, W, C]``."""
  return _forward(x, window, strides, padding)


def _forward(x, window, strides, padding):
  out_hw = _geometry(x.shape, window, strides, padding)
  y = None
  for _, tap in _taps(_pad(x, padding, -jnp.inf), window, strides, out_hw):
    y = tap if y is None else jnp.maximum(y, tap)
  return y


def _fwd(x, window, strides, padding):
  y = _forward(x, window, strides, padding)
  return y, (x, y)


def _bwd(window, strides, padding, residuals, dy):
  x, y = residuals
  out_hw = _geometry(x.shape, window, strides, padding)
  (sh, sw) = strides
  # Padded with the lowest finite value, not -inf as in the forward pass: the same pad would be merged with
  # the forward's by XLA, which then keeps that padded copy alive from the forward pass to here. No window's
  # maximum is that value unless an input is, so padded positions still never receive a gradient.
  xp = _pad(x, padding, jnp.finfo(x.dtype).min)
  dxp = None
  taken = jnp.zeros(y.shape, bool)
  zero = jnp.zeros((), dy.dtype)
  for (i, j), tap in _taps(xp, window, strides, out_hw):
    hit = (tap == y) & ~taken
    taken = taken | hit
    # This tap's share goes back to the input positions it read: a shifted, interior-padded copy (a pad, which
    # XLA fuses into one elementwise pass with the others; a scatter would not be).
    span_h, span_w = sh * (out_hw[0] - 1) + 1, sw * (out_hw[1] - 1) + 1
    part = jax.lax.pad(jnp.where(hit, dy, zero), zero,
                       ((0, 0, 0), (0, 0, 0), (i, xp.shape[2] - i - span_h, sh - 1),
                        (j, xp.shape[3] - j - span_w, sw - 1), (0, 0, 0)))
    dxp = part if dxp is None else dxp + part
  ((ph0, ph1), (pw0, pw1)) = padding
  return (dxp[:, :, ph0:xp.shape[2] - ph1, pw0:xp.shape[3] - pw1],)


spatial_max_pool.defvjp(_fwd, _bwd)
