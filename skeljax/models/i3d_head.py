"""I3DHead: global average pool over (T, H, W), dropout, linear classifier (MMAction2 ``I3DHead``)."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx


class I3DHead(nnx.Module):
  """``[N, T, H, W, in_channels]`` -> raw class scores ``[N, num_classes]``; ``fc_cls`` as in MMAction2."""

  def __init__(self, num_classes: int, in_channels: int = 512, *, spatial_type: str | None = 'avg',
               dropout_ratio: float = 0.5, init_std: float = 0.01, rngs: nnx.Rngs):
    if spatial_type not in ('avg', None):
      raise ValueError(f"spatial_type must be 'avg' or None, got {spatial_type!r}")
    self.spatial_type = spatial_type
    self.dropout = nnx.Dropout(dropout_ratio, rngs=rngs) if dropout_ratio > 0 else None
    self.fc_cls = nnx.Linear(in_channels, num_classes,
                             kernel_init=jax.nn.initializers.normal(init_std),
                             bias_init=jax.nn.initializers.zeros, rngs=rngs)

  def pool(self, x: jax.Array) -> jax.Array:
    """``[N, T, H, W, C]`` -> float32 ``[N, C]`` (AdaptiveAvgPool3d(1)); ``[N, C]`` passes through."""
    x = x.astype(jnp.float32)
    if self.spatial_type == 'avg' and x.ndim > 2:
      x = x.mean(axis=tuple(range(1, x.ndim - 1)))
    return x.reshape(x.shape[0], -1)

  def classify(self, features: jax.Array) -> jax.Array:
    """Pooled ``[N, C]`` -> ``[N, num_classes]`` (dropout, then ``fc_cls``) in ``fc_cls``'s dtype."""
    # The pool is float32; a bfloat16 step casts the parameters, so follow them to keep the matmul bfloat16.
    features = features.astype(self.fc_cls.kernel[...].dtype)
    if self.dropout is not None:
      features = self.dropout(features)
    return self.fc_cls(features)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[N, T, H, W, C]`` -> ``[N, num_classes]``."""
    return self.classify(self.pool(x))
