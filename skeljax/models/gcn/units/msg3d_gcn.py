"""MS-G3D's disentangled multi-scale graph convolution (``MSGCN``) and the k-hop graphs it aggregates over.

Scale k aggregates exactly the joints k hops away (plus the joint itself), each column normalised, so near
and far neighbours get separate weights instead of far ones being drowned by powers of A. A small learned
offset ``PA`` (init U(+-1e-6)) is added to the fixed scales; then a 1x1 conv mixes the K scales.
"""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn import graph as graph_lib
from skeljax.models.gcn.units.conv import Adjacency, conv2d


def k_adjacency(adjacency: np.ndarray, k: int, *, with_self: bool = False) -> np.ndarray:
  """Joints exactly ``k`` hops apart (0/1, ``[V, V]``), plus the identity if ``with_self`` (k = 0: I)."""
  eye = np.eye(len(adjacency))
  if k == 0:
    return eye
  reach = adjacency + eye
  within_k = np.minimum(np.linalg.matrix_power(reach, k), 1)
  within_k_minus_1 = np.minimum(np.linalg.matrix_power(reach, k - 1), 1)
  return within_k - within_k_minus_1 + (eye if with_self else 0)


def multiscale_adjacency(adjacency: np.ndarray, num_scales: int) -> np.ndarray:
  """``[K, V, V]`` float32: column-normalised ``k_adjacency(A, k, with_self=True)`` for k < K."""
  adjacency = np.asarray(adjacency, np.float64)
  if adjacency.ndim != 2 or adjacency.shape[0] != adjacency.shape[1]:
    raise ValueError(f'multi-scale graphs start from one [V, V] adjacency, got shape {adjacency.shape}')
  return _multiscale(adjacency.tobytes(), len(adjacency), num_scales).copy()


@functools.lru_cache(maxsize=16)
def _multiscale(adjacency_bytes: bytes, num_node: int, num_scales: int) -> np.ndarray:
  # Every stage of a network (and every build of it) asks for the same few graphs; the 125-node window
  # graphs' matrix powers are worth computing once.
  adjacency = np.frombuffer(adjacency_bytes, np.float64).reshape(num_node, num_node)
  scales = [graph_lib.normalize_digraph(k_adjacency(adjacency, k, with_self=True)) for k in range(num_scales)]
  return np.stack(scales).astype(np.float32)


def init_offset(key, shape, dtype=jnp.float32):
  """MS-G3D's ``PA`` init: U(-1e-6, 1e-6), a learned offset that starts at (almost) nothing."""
  return jax.random.uniform(key, shape, dtype, -1e-6, 1e-6)


def aggregate_scales(x: jax.Array, adjacency: jax.Array) -> jax.Array:
  """``out[b, t, u, k * C + c] = sum_v A[k, v, u] x[b, t, v, c]``: ``[B, T, V, C] -> [B, T, U, K * C]``."""
  y = jnp.einsum('kvu,btvc->btukc', adjacency.astype(x.dtype), x)
  return y.reshape(y.shape[:3] + (-1,))


class MultiScaleGraphConv(nnx.Module):
  """MS-G3D ``MSGCN``: ``[B, T, V, Ci] -> [B, T, V, Co]`` = ReLU(BN(conv1x1(aggregate over A + PA))).

  ``A`` is the fixed ``[K, V, V]`` stack (a buffer, saved in checkpoints), ``PA`` the learned offset; the
  1x1 conv and BN are the reference's ``mlp.layers.0`` / ``mlp.layers.1`` (PyTorch default init).
  """

  def __init__(self, num_scales: int, c_in: int, c_out: int, adjacency: np.ndarray, *, rngs: nnx.Rngs):
    scales = multiscale_adjacency(adjacency, num_scales)
    self.A = Adjacency(jnp.asarray(scales))
    self.PA = nnx.Param(init_offset(rngs.params(), scales.shape))
    self.conv = conv2d(num_scales * c_in, c_out, init='torch', rngs=rngs)
    self.bn = layers.BatchNorm(c_out)

  def __call__(self, x: jax.Array) -> jax.Array:
    adjacency = self.A[...].astype(self.PA[...].dtype) + self.PA[...]
    return jax.nn.relu(self.bn(self.conv(aggregate_scales(x, adjacency))))
