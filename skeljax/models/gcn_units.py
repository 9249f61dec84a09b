"""Building blocks shared by the GCN families: fixed-graph buffer, 1x1 / temporal convs, ST-GCN graph conv.

Activations are channel-last ``[B, T, V, C]`` with ``B = N * M`` (person index fastest, as in MMAction2).
A 2-D ``nnx.Conv`` over (T, V) keeps PyTorch's kernel layout one transpose away (``[kT, kV, I, O]``), so
checkpoints map tensor by tensor.
"""

from __future__ import annotations

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


def conv2d(c_in: int, c_out: int, *, rngs: nnx.Rngs, kernel: tuple[int, int] = (1, 1), stride: int = 1,
           init: str = 'torch', kernel_init: nnx.Initializer | None = None) -> nnx.Conv:
  """A PyTorch-style Conv2d over (T, V) with bias; ``init`` 'torch' (PyTorch default) or 'kaiming' (fan_out).

  Padding is symmetric (kT - 1) / 2 in time and 0 over joints, as every GCN conv in MMAction2.
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
  pad_t = (kernel[0] - 1) // 2
  return nnx.Conv(c_in, c_out, kernel, strides=(stride, 1), padding=((pad_t, pad_t), (0, 0)),
                  kernel_init=k_init, bias_init=b_init, rngs=rngs)


class TemporalConv(nnx.Module):
  """``unit_tcn``: Conv (k, 1) with stride (s, 1) -> BN -> Dropout. ``[B, T, V, Ci] -> [B, ceil(T/s), V, Co]``.

  With ``kernel_size=1`` it is the strided 1x1 conv + BN residual of a block whose shape changes.
  """

  def __init__(self, c_in: int, c_out: int, *, kernel_size: int = 9, stride: int = 1, dropout: float = 0.0,
               init: str = 'kaiming', rngs: nnx.Rngs):
    self.conv = conv2d(c_in, c_out, kernel=(kernel_size, 1), stride=stride, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out)
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    x = self.bn(self.conv(x))
    return self.drop(x) if self.drop is not None else x


class GraphConv(nnx.Module):
  """ST-GCN ``unit_gcn`` (conv first, learnable edge importance): ``[B, T, V, Ci] -> [B, T, V, Co]``.

  1x1 conv to K * Co channels in k-major order (channel ``k * Co + c``), then
  ``out[..., w, c] = sum_{k, v} x[..., v, k, c] * (A * PA)[k, v, w]``, then BN and ReLU. MMAction2 0.x puts
  this BN + ReLU at the head of its ``tcn``; the arithmetic is the same, only checkpoint names differ.
  """

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, edge_importance: bool = True,
               init: str = 'torch', rngs: nnx.Rngs):
    adjacency = np.asarray(adjacency, np.float32)
    self.num_subsets = adjacency.shape[0]
    self.c_out = c_out
    self.A = Adjacency(jnp.asarray(adjacency))
    # Edge importance starts at 1 (MMAction2 'importance'); without it A is used as is.
    self.PA = nnx.Param(jnp.ones(adjacency.shape, jnp.float32)) if edge_importance else None
    self.conv = conv2d(c_in, self.num_subsets * c_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out)

  def __call__(self, x: jax.Array) -> jax.Array:
    adjacency = self.A[...] if self.PA is None else self.A[...] * self.PA[...]
    y = self.conv(x)
    y = y.reshape(y.shape[:-1] + (self.num_subsets, self.c_out))
    # A is a float32 buffer: cast it so a bfloat16 step does not promote the aggregation back to float32.
    y = jnp.einsum('btvkc,kvw->btwc', y, adjacency.astype(y.dtype))
    return jax.nn.relu(self.bn(y))


def check_adjacency(adjacency: np.ndarray) -> np.ndarray:
  """Validates a ``[K, V, V]`` adjacency and returns it as float32."""
  adjacency = np.asarray(adjacency, np.float32)
  if adjacency.ndim != 3 or adjacency.shape[1] != adjacency.shape[2]:
    raise ValueError(f'graph adjacency must be [K, V, V], got shape {adjacency.shape}')
  return adjacency
