"""MMAction2 / PySKL ``mstcn``: ST-GCN++'s multi-scale temporal unit (parallel branches, concat, transform).

Branches from ``ms_cfg`` (default ``[(3, 1), (3, 2), (3, 3), (3, 4), ('max', 3), '1x1']``), each seeing the
whole input: ``(k, d)`` = 1x1 conv -> BN -> ReLU -> (k, 1) conv with dilation d and the unit's stride (no BN);
``('max', 3)`` = 1x1 conv -> BN -> ReLU -> (3, 1) max-pool; ``'1x1'`` = strided 1x1 conv. Every branch gets
``C_out // len(ms_cfg)`` channels but the first, which takes the remainder. Then
``bn(transform(concat))`` with ``transform`` = BN -> ReLU -> 1x1 conv, and dropout.

Init as MMAction2 (``mstcn`` has no init_cfg, its inner ``unit_tcn`` Kaiming fan_out): the (k, 1) convs are
Kaiming, every other conv PyTorch's default, every BN weight 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.branches import Branch, activated, run_branches
from skeljax.models.gcn.units.conv import TimeConv, conv2d

DEFAULT_MS_CFG = ((3, 1), (3, 2), (3, 3), (3, 4), ('max', 3), '1x1')


def parse_ms_cfg(ms_cfg: Sequence) -> tuple:
  """Validates an ``ms_cfg`` list (JSON-friendly: lists are accepted for tuples) and returns it as tuples."""
  parsed = []
  for entry in ms_cfg:
    if entry == '1x1':
      parsed.append('1x1')
      continue
    if not isinstance(entry, (tuple, list)) or len(entry) != 2:
      raise ValueError(f"ms_cfg entries are (kernel, dilation), ('max', 3) or '1x1'; got {entry!r}")
    kind, size = entry
    if kind == 'max':
      # MMAction2 pads the max-pool by 1 whatever its size, so only a size-3 pool keeps the branches' lengths.
      if size != 3:
        raise ValueError(f"ms_cfg max-pool branch must be ('max', 3) (padding is fixed at 1), got {entry!r}")
      parsed.append(('max', 3))
    elif isinstance(kind, int) and isinstance(size, int) and kind > 0 and size > 0:
      if kind % 2 == 0:  # unit_tcn's padding keeps the length only for odd kernels
        raise ValueError(f'ms_cfg temporal kernels must be odd, got {entry!r}')
      parsed.append((kind, size))
    else:
      raise ValueError(f"ms_cfg entries are (kernel, dilation), ('max', 3) or '1x1'; got {entry!r}")
  if not parsed:
    raise ValueError('ms_cfg needs at least one branch')
  return tuple(parsed)


def max_pool_time(x: jax.Array, *, kernel: int, stride: int, padding: int) -> jax.Array:
  """PyTorch ``MaxPool2d((kernel, 1), (stride, 1), (padding, 0))`` over T of ``[B, T, V, C]`` (-inf padding)."""
  # A Python -inf init lets JAX use its differentiable max-pool primitive (reduce_window_max).
  return jax.lax.reduce_window(x, -jnp.inf, jax.lax.max, (1, kernel, 1, 1),
                               (1, stride, 1, 1), ((0, 0), (padding, padding), (0, 0), (0, 0)))


class ConvBranch(Branch):
  """``(k, d)`` branch: 1x1 conv -> BN -> ReLU -> (k, 1) conv, dilation d, stride s (MMAction2 ``.0/.1/.3.conv``)."""

  def __init__(self, c_in: int, channels: int, kernel: int, dilation: int, stride: int, *, rngs: nnx.Rngs):
    self.conv_in = conv2d(c_in, channels, init='torch', rngs=rngs)
    self.bn = layers.BatchNorm(channels)
    self.conv_t = conv2d(channels, channels, kernel=(kernel, 1), stride=stride, dilation=dilation,
                         init='kaiming', rngs=rngs)

  @property
  def entry(self) -> TimeConv:
    return self.conv_in

  def tail(self, z: jax.Array) -> jax.Array:
    return self.conv_t(activated(z, self.bn))


class MaxBranch(Branch):
  """``('max', 3)`` branch: 1x1 conv -> BN -> ReLU -> (3, 1) max-pool with stride s, padding 1."""

  def __init__(self, c_in: int, channels: int, stride: int, *, rngs: nnx.Rngs):
    self.conv_in = conv2d(c_in, channels, init='torch', rngs=rngs)
    self.bn = layers.BatchNorm(channels)
    self.stride = stride

  @property
  def entry(self) -> TimeConv:
    return self.conv_in

  def tail(self, z: jax.Array) -> jax.Array:
    return max_pool_time(jax.nn.relu(self.bn(z)), kernel=3, stride=self.stride, padding=1)


class MultiScaleTemporalConv(nnx.Module):
  """``mstcn``: ``[B, T, V, Ci] -> [B, ceil(T / stride), V, Co]``."""

  def __init__(self, c_in: int, c_out: int, *, stride: int = 1, dropout: float = 0.0,
               ms_cfg: Sequence = DEFAULT_MS_CFG, rngs: nnx.Rngs):
    ms_cfg = parse_ms_cfg(ms_cfg)
    mid = c_out // len(ms_cfg)
    first = c_out - mid * (len(ms_cfg) - 1)
    branches = []
    for i, entry in enumerate(ms_cfg):
      channels = first if i == 0 else mid
      if entry == '1x1':
        branches.append(conv2d(c_in, channels, stride=stride, init='torch', rngs=rngs))
      elif entry[0] == 'max':
        branches.append(MaxBranch(c_in, channels, stride, rngs=rngs))
      else:
        branches.append(ConvBranch(c_in, channels, entry[0], entry[1], stride, rngs=rngs))
    self.ms_cfg = ms_cfg
    self.branches = nnx.List(branches)
    self.transform_bn = layers.BatchNorm(c_out)
    self.transform_conv = conv2d(c_out, c_out, init='torch', rngs=rngs)
    self.bn = layers.BatchNorm(c_out)
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    # The branches' 1x1 entry convs run as one matmul (``run_branches``).
    y = jnp.concatenate(run_branches(x, self.branches), axis=-1)
    y = self.bn(self.transform_conv(jax.nn.relu(self.transform_bn(y))))
    return self.drop(y) if self.drop is not None else y
