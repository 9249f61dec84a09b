"""MS-G3D's multi-scale temporal unit (``MSTCN`` of ``projects/msg3d``; not ST-GCN++'s ``mstcn``).

Six parallel branches, each on ``out // 6`` channels (the last takes the remainder): four
``1x1 conv -> BN -> ReLU -> unit_tcn(k=3, dilation d)`` for d = 1..4, one ``1x1 conv -> BN -> ReLU ->
max pool(3) -> BN``, one strided ``1x1 conv -> BN``. Their concatenation plus the residual (identity, or
``unit_tcn(k=1)`` when the shape changes) goes through ReLU (skipped where the reference sets
``act = Identity``) and dropout. Every conv is Kaiming-normal (fan_out) with zero bias and every BN starts at
1 / 0, the unit's ``init_cfg``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.branches import activated
from skeljax.models.gcn.units.conv import conv2d
from skeljax.models.gcn.units.pool import temporal_max_pool
from skeljax.models.gcn.units.temporal_conv import TemporalConv


class DilatedBranch(nnx.Module):
  """``1x1 conv -> BN -> ReLU -> unit_tcn(k, stride, dilation)`` (reference indices 0, 1, 3)."""

  def __init__(self, c_in: int, c_branch: int, kernel_size: int, stride: int, dilation: int, *, rngs: nnx.Rngs):
    self.conv = conv2d(c_in, c_branch, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(c_branch)
    self.tcn = TemporalConv(c_branch, c_branch, kernel_size=kernel_size, stride=stride, dilation=dilation,
                            init='kaiming', rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.tcn(activated(self.conv(x), self.bn))


class MaxPoolBranch(nnx.Module):
  """``1x1 conv -> BN -> ReLU -> MaxPool(3, stride) -> BN`` (reference indices 0, 1, 4)."""

  def __init__(self, c_in: int, c_branch: int, stride: int, *, rngs: nnx.Rngs):
    self.stride = stride
    self.conv = conv2d(c_in, c_branch, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(c_branch)
    self.bn_out = layers.BatchNorm(c_branch)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn_out(temporal_max_pool(jax.nn.relu(self.bn(self.conv(x))), stride=self.stride))


class PointBranch(nnx.Module):
  """Strided ``1x1 conv -> BN`` (reference indices 0, 1)."""

  def __init__(self, c_in: int, c_branch: int, stride: int, *, rngs: nnx.Rngs):
    self.conv = conv2d(c_in, c_branch, stride=stride, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(c_branch)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn(self.conv(x))


class MSG3DTemporalConv(nnx.Module):
  """MS-G3D ``MSTCN``: ``[B, T, V, Ci] -> [B, ceil(T / stride), V, Co]``.

  ``activation=False`` is the reference's ``act = nn.Identity()`` (last unit of each spatial pathway).
  """

  def __init__(self, c_in: int, c_out: int, *, kernel_size: int = 3, stride: int = 1,
               dilations: Sequence[int] = (1, 2, 3, 4), residual: bool = True, activation: bool = True,
               dropout: float = 0.0, rngs: nnx.Rngs):
    num_branches = len(dilations) + 2
    c_branch = c_out // num_branches
    c_rem = c_out - c_branch * (num_branches - 1)
    branches = [DilatedBranch(c_in, c_branch, kernel_size, stride, d, rngs=rngs) for d in dilations]
    branches.append(MaxPoolBranch(c_in, c_branch, stride, rngs=rngs))
    branches.append(PointBranch(c_in, c_rem, stride, rngs=rngs))
    self.branches = nnx.List(branches)
    if not residual:
      self.residual_kind = 'none'
    elif c_in == c_out and stride == 1:
      self.residual_kind = 'identity'
    else:
      self.residual_kind = 'conv'
    self.residual = (TemporalConv(c_in, c_out, kernel_size=1, stride=stride, init='kaiming', rngs=rngs)
                     if self.residual_kind == 'conv' else None)
    self.activation = activation
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jnp.concatenate([branch(x) for branch in self.branches], axis=-1)
    if self.residual_kind == 'identity':
      y = y + x
    elif self.residual_kind == 'conv':
      y = y + self.residual(x)
    if self.activation:
      y = jax.nn.relu(y)
    return self.drop(y) if self.drop is not None else y
