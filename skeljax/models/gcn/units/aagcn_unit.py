"""AAGCN's adaptive unit as in MMAction2 1.x ``unit_aagcn`` (also PySKL's), with its optional attention.

Per subset k: ``S_k = tanh(theta(x) . phi(x) / (inter * T))``; aggregate x with ``A_k + alpha * S_k``
(A learnable from the graph, alpha from 0), 1x1 ``conv_d``; ``y = ReLU(BN(sum_k) + down(x))``; then,
with ``attention=True``, spatial, temporal and channel attention, each ``y <- y * sigmoid(.) + y``.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.agcn_unit import Down, adaptive_graph_conv
from skeljax.models.gcn.units.conv import conv2d, conv_branch_init, zeros_init


def _conv1d(c_in: int, c_out: int, kernel: int, kernel_init: nnx.Initializer, rngs: nnx.Rngs) -> nnx.Conv:
  pad = (kernel - 1) // 2
  return nnx.Conv(c_in, c_out, (kernel,), padding=((pad, pad),), kernel_init=kernel_init,
                  bias_init=zeros_init, rngs=rngs)


class STCAttention(nnx.Module):
  """AAGCN's spatial, then temporal, then channel attention on ``[B, T, V, C]`` (shape preserved).

  Init as MMAction2's ``unit_aagcn`` init_cfg: conv_ta 0, conv_sa Xavier-normal, fc1c Kaiming fan_in,
  fc2c 0 (so the channel gate starts at 1/2).
  """

  def __init__(self, channels: int, num_node: int, *, rngs: nnx.Rngs):
    kernel_v = num_node if num_node % 2 else num_node - 1
    self.conv_sa = _conv1d(channels, 1, kernel_v, jax.nn.initializers.variance_scaling(1.0, 'fan_avg', 'normal'),
                           rngs)
    self.conv_ta = _conv1d(channels, 1, 9, zeros_init, rngs)
    self.fc1c = nnx.Linear(channels, channels // 2, rngs=rngs, bias_init=zeros_init,
                           kernel_init=jax.nn.initializers.variance_scaling(2.0, 'fan_in', 'normal'))
    self.fc2c = nnx.Linear(channels // 2, channels, kernel_init=zeros_init, bias_init=zeros_init, rngs=rngs)

  def __call__(self, y: jax.Array) -> jax.Array:
    gate = jax.nn.sigmoid(self.conv_sa(y.mean(axis=1)))  # [B, V, 1]
    y = y * gate[:, None] + y
    gate = jax.nn.sigmoid(self.conv_ta(y.mean(axis=2)))  # [B, T, 1]
    y = y * gate[:, :, None] + y
    gate = jax.nn.sigmoid(self.fc2c(jax.nn.relu(self.fc1c(y.mean(axis=(1, 2))))))  # [B, C]
    return y * gate[:, None, None] + y


class AAGCNUnit(nnx.Module):
  """1.x ``unit_aagcn`` (adaptive): ``[B, T, V, Ci] -> [B, T, V, Co]``."""

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, coff_embedding: int = 4,
               attention: bool = False, rngs: nnx.Rngs):
    num_subsets, num_node = adjacency.shape[0], adjacency.shape[-1]
    inter = c_out // coff_embedding
    self.A = nnx.Param(jnp.asarray(adjacency, jnp.float32))
    self.alpha = nnx.Param(jnp.zeros((1,), jnp.float32))
    kaiming = dict(init='kaiming', rngs=rngs)
    self.conv_a = nnx.List([conv2d(c_in, inter, **kaiming) for _ in range(num_subsets)])
    self.conv_b = nnx.List([conv2d(c_in, inter, **kaiming) for _ in range(num_subsets)])
    self.conv_d = nnx.List([conv2d(c_in, c_out, kernel_init=conv_branch_init(num_subsets), rngs=rngs)
                            for _ in range(num_subsets)])
    self.down = Down(c_in, c_out, init='kaiming', rngs=rngs) if c_in != c_out else None
    # init_cfg overrides the module named `bn` to 1e-6 so each unit starts close to its residual path.
    self.bn = layers.BatchNorm(c_out, scale_init=1e-6)
    self.attention = STCAttention(c_out, num_node, rngs=rngs) if attention else None

  def __call__(self, x: jax.Array) -> jax.Array:
    alpha = self.alpha[...][0]
    y = adaptive_graph_conv(x, self.conv_a, self.conv_b, self.conv_d,
                            lambda logits: self.A[...] + alpha * jnp.tanh(logits),
                            training=not self.bn.use_running_average)
    residual = self.down(x) if self.down is not None else x
    y = jax.nn.relu(self.bn(y) + residual)
    return self.attention(y) if self.attention is not None else y
