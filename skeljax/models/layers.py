"""Layers shared by every model: PyTorch-exact BatchNorm, PyTorch initialisers, clip averaging.

All layers are channel-last.
"""

from __future__ import annotations

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
      mean, var = self.mean[...], self.var[...]
    else:
      axes = tuple(range(x.ndim - 1))
      x32 = x.astype(jnp.float32)
      mean = jnp.mean(x32, axis=axes)
      var = jnp.mean(jnp.square(x32 - mean), axis=axes)
      n = math.prod(x.shape[:-1])
      unbiased = var * (n / max(n - 1, 1))
      self.mean[...] = (1 - self.momentum) * self.mean[...] + self.momentum * jax.lax.stop_gradient(mean)
      self.var[...] = (1 - self.momentum) * self.var[...] + self.momentum * jax.lax.stop_gradient(unbiased)
    inv = jax.lax.rsqrt(var + self.epsilon) * self.scale[...]
    y = (x.astype(jnp.float32) - mean) * inv + self.bias[...]
    return y.astype(x.dtype)


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
