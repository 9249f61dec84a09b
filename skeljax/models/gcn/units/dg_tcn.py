"""DG-STGCN's dynamic group temporal unit (PySKL ``dgmstcn``).

The joints' mean is appended as an extra "joint" (V + 1 columns), so every branch also sees the whole
skeleton. Branches follow ``ms_cfg``: ``(k, d)`` = ``1x1 conv -> BN -> ReLU -> conv (k, 1) dilation d`` (no
BN), ``('max', 3)`` = ``1x1 conv -> BN -> ReLU -> max pool``, ``'1x1'`` = strided 1x1 conv; branch 0 gets the
remainder channels. Afterwards the global column is added back to every joint, weighted per joint by the
learned ``add_coeff`` (init 0), then ``BN -> ReLU -> 1x1 conv`` (``transform``), BN and dropout.
PyTorch default init.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.branches import Branch, activated, run_branches
from skeljax.models.gcn.units.conv import TimeConv, conv2d
from skeljax.models.gcn.units.ms_tcn import DEFAULT_MS_CFG, parse_ms_cfg  # ST-GCN++'s branch grammar
from skeljax.models.gcn.units.pool import temporal_max_pool

class ConvBranch(Branch):
  """``1x1 conv -> BN -> ReLU -> conv (k, 1)`` with stride and dilation (reference indices 0, 1, 3.conv)."""

  def __init__(self, c_in: int, c_branch: int, kernel_size: int, dilation: int, stride: int, *, rngs: nnx.Rngs):
    self.conv = conv2d(c_in, c_branch, rngs=rngs)
    self.bn = layers.BatchNorm(c_branch)
    self.tcn = conv2d(c_branch, c_branch, kernel=(kernel_size, 1), stride=stride, dilation=dilation, rngs=rngs)

  @property
  def entry(self) -> TimeConv:
    return self.conv

  def tail(self, z: jax.Array) -> jax.Array:
    return self.tcn(activated(z, self.bn))


class MaxBranch(Branch):
  """``1x1 conv -> BN -> ReLU -> MaxPool(3, stride)`` (reference indices 0, 1)."""

  def __init__(self, c_in: int, c_branch: int, stride: int, *, rngs: nnx.Rngs):
    self.stride = stride
    self.conv = conv2d(c_in, c_branch, rngs=rngs)
    self.bn = layers.BatchNorm(c_branch)

  @property
  def entry(self) -> TimeConv:
    return self.conv

  def tail(self, z: jax.Array) -> jax.Array:
    return temporal_max_pool(jax.nn.relu(self.bn(z)), stride=self.stride)


class DGTemporalConv(nnx.Module):
  """PySKL ``dgmstcn``: ``[B, T, V, Ci] -> [B, ceil(T / stride), V, Co]``.

  ``num_joints`` sizes ``add_coeff`` (PySKL: 25 whatever the skeleton); the first V entries are used.
  """

  def __init__(self, c_in: int, c_out: int, *, stride: int = 1, ms_cfg: Sequence = DEFAULT_MS_CFG,
               num_joints: int = 25, dropout: float = 0.0, rngs: nnx.Rngs):
    ms_cfg = parse_ms_cfg(ms_cfg)
    num_branches = len(ms_cfg)
    c_branch = c_out // num_branches
    c_rem = c_out - c_branch * (num_branches - 1)
    branches = []
    for i, entry in enumerate(ms_cfg):
      width = c_rem if i == 0 else c_branch
      if entry == '1x1':
        branches.append(conv2d(c_in, width, stride=stride, rngs=rngs))
      elif entry[0] == 'max':
        branches.append(MaxBranch(c_in, width, stride, rngs=rngs))
      else:
        branches.append(ConvBranch(c_in, width, entry[0], entry[1], stride, rngs=rngs))
    self.ms_cfg = ms_cfg
    self.branches = nnx.List(branches)
    self.num_joints = num_joints
    self.add_coeff = nnx.Param(jnp.zeros((num_joints,), jnp.float32))
    self.transform_bn = layers.BatchNorm(c_rem + c_branch * (num_branches - 1))
    self.transform_conv = conv2d(c_rem + c_branch * (num_branches - 1), c_out, rngs=rngs)
    self.bn = layers.BatchNorm(c_out)
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    v = x.shape[2]
    if v > self.num_joints:
      raise ValueError(f'dgmstcn was built with num_joints={self.num_joints} joint weights, input has V={v}')
    x = jnp.concatenate([x, x.mean(axis=2, keepdims=True)], axis=2)  # [B, T, V + 1, C]
    # The branches' 1x1 entry convs run as one matmul (``run_branches``).
    y = jnp.concatenate(run_branches(x, self.branches), axis=-1)
    y = y[:, :, :v] + y[:, :, v:] * self.add_coeff[...][:v, None].astype(y.dtype)
    y = self.transform_conv(jax.nn.relu(self.transform_bn(y)))
    y = self.bn(y)
    return self.drop(y) if self.drop is not None else y
