"""Layers shared by every model: PyTorch-exact BatchNorm, PyTorch initialisers, clip averaging.

All layers are channel-last.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
from flax import nnx


class BatchNorm(nnx.Module):
  """BatchNorm over every axis but the last, with PyTorch's semantics.

  ``nnx.BatchNorm`` keeps the *biased* batch variance in its running average; PyTorch keeps the unbiased one
  (n / (n - 1)), which MMAction2 checkpoints and training curves depend on. Hence this small module.
  Eval mode (``use_running_average=True``, set by ``model.eval()``) normalises with the running statistics.
  """

  def __init__(self, num_features: int, *, momentum: float = 0.1, epsilon: float = 1e-5,
               scale_init: float = 1.0, use_running_average: bool = False):
    self.num_features = num_features
    self.momentum = momentum  # PyTorch convention: new = (1 - momentum) * old + momentum * batch
    self.epsilon = epsilon
    self.use_running_average = use_running_average
    self.scale = nnx.Param(jnp.full((num_features,), scale_init, jnp.float32))
    self.bias = nnx.Param(jnp.zeros((num_features,), jnp.float32))
    self.mean = nnx.BatchStat(jnp.zeros((num_features,), jnp.float32))
    self.var = nnx.BatchStat(jnp.ones((num_features,), jnp.float32))

  def __call__(self, x: jax.Array) -> jax.Array:
    if self.use_running_average:
      inv = jax.lax.rsqrt(self.var[...] + self.epsilon) * self.scale[...]
      return ((x.astype(jnp.float32) - self.mean[...]) * inv + self.bias[...]).astype(x.dtype)
    y, mean, var = batch_norm_train(x, self.scale[...], self.bias[...], self.epsilon)
    n = math.prod(x.shape[:-1])
    unbiased = var * (n / max(n - 1, 1))
    self.mean[...] = (1 - self.momentum) * self.mean[...] + self.momentum * jax.lax.stop_gradient(mean)
    self.var[...] = (1 - self.momentum) * self.var[...] + self.momentum * jax.lax.stop_gradient(unbiased)
    return y


def _batch_norm_forward(x, scale, bias, epsilon):
  axes = tuple(range(x.ndim - 1))
  x32 = x.astype(jnp.promote_types(x.dtype, jnp.float32))  # bfloat16 statistics in float32
  mean = jnp.mean(x32, axis=axes)
  var = jnp.mean(jnp.square(x32 - mean), axis=axes)
  y = (x32 - mean) * (jax.lax.rsqrt(var + epsilon) * scale) + bias
  return y.astype(x.dtype), mean, var


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def batch_norm_train(x: jax.Array, scale: jax.Array, bias: jax.Array, epsilon: float):
  """Training-mode batch norm over every axis but the last: ``(y, batch mean, biased batch variance)``.

  The forward pass is the plain formula. The gradient is written out so that the backward pass keeps only
  ``x`` and the per-channel statistics and recomputes the normalised values from them: autodiff of the
  formula keeps ``x - mean`` as well, which XLA:CPU holds beside x until the backward pass: an
  activation-sized tensor per norm (PoseC3D's train step plan at batch 4: 3.71 GB with it, 2.63 GB without).
  """
  return _batch_norm_forward(x, scale, bias, epsilon)


def _batch_norm_fwd(x, scale, bias, epsilon):
  y, mean, var = _batch_norm_forward(x, scale, bias, epsilon)
  return (y, mean, var), (x, scale, mean, var)


def _batch_norm_bwd(epsilon, residuals, cotangents):
  x, scale, mean, var = residuals
  dy, dmean, dvar = cotangents
  axes = tuple(range(x.ndim - 1))
  n = math.prod(x.shape[:-1])
  rstd = jax.lax.rsqrt(var + epsilon)
  x = x.astype(mean.dtype)
  dy = dy.astype(mean.dtype)
  # No activation-sized ``x - mean`` here: XLA would merge it with the forward pass's centred tensor (or
  # compute it as soon as x exists) and keep it alive through the backward pass beside x, an activation per
  # norm. x is centred instead on s, the mean rounded to 7 or 6 mantissa bits (a different value, fused into
  # each use), and the exact per-channel (mean - s) is corrected for: the rounding stays that of
  # ``x - mean``, where ``b * x - b * mean`` would lose |mean| / std digits per layer. The two uses round
  # differently so that XLA does not merge them into one stored tensor either.
  shift_sum = jax.lax.reduce_precision(mean, exponent_bits=8, mantissa_bits=7)
  shift_dx = jax.lax.reduce_precision(mean, exponent_bits=8, mantissa_bits=6)
  dbias = jnp.sum(dy, axis=axes)
  dscale = (jnp.sum(dy * (x - shift_sum), axis=axes) - (mean - shift_sum) * dbias) * rstd
  # dx = scale * rstd * (dy - mean(dy) - x_hat * mean(dy * x_hat)), x_hat = (x - mean) * rstd, plus the
  # statistics' own cotangents (zero when they only feed the running averages: d mean / dx = 1 / n,
  # d var / dx = 2 (x - mean) / n): per channel dx = a * dy + b * (x - mean) + c.
  a = scale * rstd
  b = (2.0 * dvar - a * rstd * dscale) / n
  c = (dmean - a * dbias) / n - b * (mean - shift_dx)
  return (a * dy + b * (x - shift_dx) + c).astype(residuals[0].dtype), dscale, dbias


batch_norm_train.defvjp(_batch_norm_fwd, _batch_norm_bwd)


def unfused(x: jax.Array, anchor: jax.Array) -> jax.Array:
  """``x`` exactly (forward and backward), as a division by a runtime 1 that XLA does not fuse into x's users.

  XLA:CPU fuses cheap elementwise producers (BatchNorm, residual sum, ReLU) into every consumer, also into the
  ``[C, T, N]`` copies it makes of a convolution's input for the kernel gradient, which then recompute the
  chain in transposed order: 10-63 ms a copy in an AAGCN step against ~2 ms for copying a materialised tensor
  (an optimisation barrier is dropped on the CPU). A floating division counts as expensive to XLA's fusion and
  is not duplicated: its output is materialised once and the copies read it. ``anchor``: a parameter (its first
  element, below 1e19 in magnitude); ``u / u`` is exactly 1 for a finite ``u >= 1`` and XLA cannot know it, and
  ``x / 1`` is ``x``.
  """
  return x / runtime_one(anchor.reshape(-1)[0]).astype(x.dtype)


def runtime_one(anchor: jax.Array) -> jax.Array:
  """Ones of ``anchor``'s shape (float32) that XLA cannot fold: ``u / u``, u = 1 + anchor², exact for finite
  ``|anchor| < 1e19``; a divisor that keeps XLA:CPU from fusing a tensor into its consumers (``unfused``)."""
  u = 1 + jnp.square(jax.lax.stop_gradient(anchor).astype(jnp.float32))
  return u / u


def kaiming_normal_fan_out() -> nnx.Initializer:
  """mmcv ``kaiming_init(mode='fan_out', nonlinearity='relu', distribution='normal')``.

  Kernels are channel-last ``[*spatial, in, out]``; fan_out = out * prod(spatial) as in PyTorch.
  """
  return jax.nn.initializers.variance_scaling(2.0, 'fan_out', 'normal')


def torch_default_kernel_init() -> nnx.Initializer:
  """PyTorch's default Conv/Linear weight init: kaiming_uniform(a=sqrt(5)) = U(+-1/sqrt(fan_in))."""
  return jax.nn.initializers.variance_scaling(1.0 / 3.0, 'fan_in', 'uniform')


def torch_default_bias_init(fan_in: int) -> nnx.Initializer:
  """PyTorch's default Conv/Linear bias init: U(+-1/sqrt(fan_in))."""
  bound = 1.0 / math.sqrt(fan_in) if fan_in > 0 else 0.0

  def init(key, shape, dtype=jnp.float32):
    return jax.random.uniform(key, shape, dtype, -bound, bound)

  return init


def average_clips(logits: jax.Array, mode: str | None = 'prob') -> jax.Array:
  """Averages `[N, clips, classes]` raw scores over clips: by softmax ('prob'), raw ('score'), or not (None)."""
  if mode is None:
    return logits
  if mode == 'prob':
    return jax.nn.softmax(logits, axis=-1).mean(axis=1)
  if mode == 'score':
    return logits.mean(axis=1)
  raise ValueError(f"average_clips must be 'prob', 'score' or None, got {mode!r}")
