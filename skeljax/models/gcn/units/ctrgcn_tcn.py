"""CTR-GCN's multi-scale temporal unit (MMAction2 ``projects/ctrgcn`` / PySKL ``MSTCN``; not ``mstcn``).

Branches, each seeing the whole input: per ``(kernel, dilation)`` pair (default kernel 5, dilations 1 and 2)
1x1 conv -> BN -> ReLU -> ``unit_tcn`` ((k, 1) conv with the stride, BN); a max branch 1x1 conv -> BN -> ReLU
-> (3, 1) max-pool with the stride -> BN; a strided 1x1 conv -> BN. Every branch has ``C_out // (n + 2)``
channels but the last (1x1) one, which takes the remainder. Concatenated, then ReLU and dropout (CTR-GCN's
blocks build it without its optional residual). Unlike MMAction2's ``mstcn`` there is no transform, and the
activation comes after the concat. Init: every conv Kaiming fan_out, zero bias; every BN weight 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.branches import activated
from skeljax.models.gcn.units.conv import conv2d
from skeljax.models.gcn.units.ms_tcn import max_pool_time
from skeljax.models.gcn.units.temporal_conv import TemporalConv


class DilatedBranch(nnx.Module):
  """1x1 conv -> BN -> ReLU -> ``unit_tcn`` (k, 1) with dilation and stride (reference ``.0``, ``.1``, ``.3``)."""

  def __init__(self, c_in: int, channels: int, kernel: int, dilation: int, stride: int, *, rngs: nnx.Rngs):
    self.conv_in = conv2d(c_in, channels, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(channels)
    self.tcn = TemporalConv(channels, channels, kernel_size=kernel, stride=stride, dilation=dilation,
                            init='kaiming', rngs=rngs)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.tcn(activated(self.conv_in(x), self.bn))


class PoolBranch(nnx.Module):
  """1x1 conv -> BN -> ReLU -> (3, 1) max-pool, stride s, padding 1 -> BN (reference ``.0``, ``.1``, ``.4``)."""

  def __init__(self, c_in: int, channels: int, stride: int, *, rngs: nnx.Rngs):
    self.conv_in = conv2d(c_in, channels, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(channels)
    self.bn_out = layers.BatchNorm(channels)
    self.stride = stride

  def __call__(self, x: jax.Array) -> jax.Array:
    y = max_pool_time(jax.nn.relu(self.bn(self.conv_in(x))), kernel=3, stride=self.stride, padding=1)
    return self.bn_out(y)


class PointBranch(nnx.Module):
  """Strided 1x1 conv -> BN (reference ``.0``, ``.1``)."""

  def __init__(self, c_in: int, channels: int, stride: int, *, rngs: nnx.Rngs):
    self.conv_in = conv2d(c_in, channels, stride=stride, init='kaiming', rngs=rngs)
    self.bn = layers.BatchNorm(channels)

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.bn(self.conv_in(x))


class CTRGCNTemporalConv(nnx.Module):
  """CTR-GCN ``MSTCN``: ``[B, T, V, Ci] -> [B, ceil(T / stride), V, Co]``."""

  def __init__(self, c_in: int, c_out: int, *, kernel_size: int | Sequence[int] = 5, stride: int = 1,
               dilations: Sequence[int] = (1, 2), dropout: float = 0.0, rngs: nnx.Rngs):
    dilations = tuple(int(d) for d in dilations)
    kernels = (tuple(int(k) for k in kernel_size) if isinstance(kernel_size, (list, tuple))
               else (int(kernel_size),) * len(dilations))
    if len(kernels) != len(dilations):
      raise ValueError(f'kernel_size {kernel_size!r} needs one kernel per dilation {dilations}')
    if any(k % 2 == 0 or k < 1 for k in kernels) or any(d < 1 for d in dilations):
      raise ValueError(f'temporal kernels must be odd and dilations >= 1, got {kernels} / {dilations}')
    num_branches = len(dilations) + 2
    mid = c_out // num_branches
    last = c_out - mid * (num_branches - 1)
    branches = [DilatedBranch(c_in, mid, k, d, stride, rngs=rngs) for k, d in zip(kernels, dilations)]
    branches.append(PoolBranch(c_in, mid, stride, rngs=rngs))
    branches.append(PointBranch(c_in, last, stride, rngs=rngs))
    self.branches = nnx.List(branches)
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    y = jax.nn.relu(jnp.concatenate([branch(x) for branch in self.branches], axis=-1))
    return self.drop(y) if self.drop is not None else y
