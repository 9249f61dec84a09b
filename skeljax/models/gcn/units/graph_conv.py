"""ST-GCN's graph unit (MMAction2 / PySKL ``unit_gcn``): 1x1 conv and aggregation over K graph subsets, BN, ReLU.

Options as MMAction2 names them (``STGCN(gcn_adaptive=..., gcn_conv_pos=..., gcn_with_res=...)``):

- ``adaptive``: how the graph learns. ``'importance'`` (default; ST-GCN's edge importance): ``A * PA`` with
  ``PA`` learnable from 1; ``'offset'``: ``A + PA`` with ``PA`` from U(-1e-6, 1e-6); ``'init'`` (ST-GCN++):
  ``A`` itself is learnable, starting from the graph; ``None``: the fixed graph.
- ``conv_pos``: ``'pre'`` convolves to ``K * C_out`` channels and then aggregates; ``'post'`` aggregates the
  input per subset and convolves the ``K * C_in`` result to ``C_out``.
- ``with_res`` (ST-GCN++): adds the unit's own residual before the ReLU, a 1x1 conv + BN (``down``) when the
  channel count changes, the input itself otherwise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.agcn_unit import Down
from skeljax.models.gcn.units.aggregation import convolve_and_aggregate
from skeljax.models.gcn.units.conv import Adjacency, conv2d

ADAPTIVE = (None, 'init', 'offset', 'importance')


CONV_POS = ('pre', 'post')


class GraphConv(nnx.Module):
  """``unit_gcn``: ``[B, T, V, Ci] -> [B, T, V, Co]``.

  With ``conv_pos='pre'`` the conv's output channels are k-major (channel ``k * Co + c``), then
  ``out[..., w, c] = sum_{k, v} y[..., v, k, c] * A_eff[k, v, w]``; BN, (+ residual), ReLU. MMAction2 0.x puts
  this BN + ReLU at the head of its ``tcn``; the arithmetic is the same, only checkpoint names differ.
  """

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, *, adaptive: str | None = 'importance',
               conv_pos: str = 'pre', with_res: bool = False, init: str = 'torch', rngs: nnx.Rngs):
    if adaptive not in ADAPTIVE:
      raise ValueError(f'gcn_adaptive must be one of {ADAPTIVE}, got {adaptive!r}')
    if conv_pos not in CONV_POS:
      raise ValueError(f'gcn_conv_pos must be one of {CONV_POS}, got {conv_pos!r}')
    adjacency = np.asarray(adjacency, np.float32)
    self.num_subsets = adjacency.shape[0]
    self.c_out = c_out
    self.adaptive = adaptive
    self.conv_pos = conv_pos
    # 'init' learns the graph itself; otherwise it is a fixed buffer that a checkpoint must match.
    self.A = (nnx.Param if adaptive == 'init' else Adjacency)(jnp.asarray(adjacency))
    if adaptive == 'importance':
      self.PA = nnx.Param(jnp.ones(adjacency.shape, jnp.float32))
    elif adaptive == 'offset':
      self.PA = nnx.Param(jax.random.uniform(rngs.params(), adjacency.shape, jnp.float32, -1e-6, 1e-6))
    else:
      self.PA = None
    conv_in, conv_out = (c_in, self.num_subsets * c_out) if conv_pos == 'pre' else (self.num_subsets * c_in, c_out)
    self.conv = conv2d(conv_in, conv_out, init=init, rngs=rngs)
    self.bn = layers.BatchNorm(c_out)
    self.with_res = with_res
    self.down = Down(c_in, c_out, init=init, rngs=rngs) if with_res and c_in != c_out else None

  def adjacency(self) -> jax.Array:
    """The effective graph ``[K, V, V]`` (float32)."""
    if self.adaptive == 'importance':
      return self.A[...] * self.PA[...]
    if self.adaptive == 'offset':
      return self.A[...] + self.PA[...]
    return self.A[...]

  def __call__(self, x: jax.Array) -> jax.Array:
    # A is float32 (buffer or parameter): cast it so a bfloat16 step does not promote the aggregation back.
    adjacency = self.adjacency().astype(x.dtype)
    if self.conv_pos == 'pre':
      # The conv's bias goes through the aggregation as sum_v A[k, v, w] * b[k]: added after it, on the
      # K-times smaller output, instead of as a pass over the conv's whole output.
      x_c, kernel = self.conv.promote_dtype((x, self.conv.kernel[...][0, 0]), dtype=self.conv.dtype)
      kernel = kernel.reshape(kernel.shape[0], self.num_subsets, self.c_out)
      y = convolve_and_aggregate(x_c, kernel, adjacency.astype(x_c.dtype))
      if self.conv.bias is not None:
        bias = self.conv.bias[...].astype(y.dtype).reshape(self.num_subsets, self.c_out)
        y = y + jnp.einsum('kvw,kc->wc', adjacency, bias)
    else:
      y = jnp.einsum('btvc,kvw->btwkc', x, adjacency)
      y = self.conv(y.reshape(y.shape[:-2] + (-1,)))
    y = self.bn(y)
    if self.with_res:
      y = y + (self.down(x) if self.down is not None else x)
    return jax.nn.relu(y)
