"""DG-STGCN's dynamic group graph convolution (PySKL ``dggcn``).

Channels split into K groups (one per learned graph, ``mid = int(ratio * Co)`` channels each). Each group
aggregates over ``A_k`` (learned, random init) plus two data-dependent terms computed from the
time-averaged input: a per-channel correlation graph ``alpha * tanh(x1[v] - x2[w])`` (``ctr``) and a
per-group affinity ``beta * softmax_v(x1 . x2)`` (``ada``). Then a 1x1 ``post`` conv, BN, the unit's own
residual (``down``) and ReLU. ``alpha`` / ``beta`` start at 0, so training begins from the static graph.
PyTorch default init everywhere (PySKL's DG-STGCN never calls its units' init).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.agcn_unit import Down
from skeljax.models.gcn.units.conv import conv2d

ACTIVATIONS = {'tanh': jnp.tanh, 'relu': jax.nn.relu, 'sigmoid': jax.nn.sigmoid,
               # PySKL's nn.Softmax(-2): over the source joint v of a [..., V, W] graph.
               'softmax': lambda a: jax.nn.softmax(a, axis=-2)}
# 'T': the dynamic graphs come from the time-averaged input (PySKL's only released setting); None: off.
DYNAMIC_MODES = (None, 'T')


class DGGraphConv(nnx.Module):
  """PySKL ``dggcn``: ``[B, T, V, Ci] -> [B, T, V, Co]``; ``adjacency`` ``[K, V, V]`` initialises ``A``.

  ``subset_wise=False`` (the default) scales every group's dynamic graphs by ``alpha[0]`` / ``beta[0]``, as
  the reference does; ``True`` uses ``alpha[k]`` / ``beta[k]``.
  """

  def __init__(self, c_in: int, c_out: int, adjacency: jax.Array | np.ndarray, *, ratio: float | None = 0.25,
               ctr: str | None = 'T', ada: str | None = 'T', subset_wise: bool = False, ctr_act: str = 'tanh',
               ada_act: str = 'softmax', rngs: nnx.Rngs):
    for name, mode in (('ctr', ctr), ('ada', ada)):
      if mode not in DYNAMIC_MODES:
        raise ValueError(f"dggcn {name} must be one of {DYNAMIC_MODES} ('NA', per-frame graphs, is not "
                         f'supported), got {mode!r}')
    for name, act in (('ctr_act', ctr_act), ('ada_act', ada_act)):
      if act not in ACTIVATIONS:
        raise ValueError(f'dggcn {name} must be one of {sorted(ACTIVATIONS)}, got {act!r}')
    num_subsets = adjacency.shape[0]
    ratio = 1 / num_subsets if ratio is None else ratio
    self.num_subsets, self.mid = num_subsets, int(ratio * c_out)
    self.ctr, self.ada, self.subset_wise = ctr, ada, subset_wise
    self.ctr_act, self.ada_act = ctr_act, ada_act
    width = self.mid * num_subsets
    self.A = nnx.Param(jnp.asarray(adjacency, jnp.float32))
    self.alpha = nnx.Param(jnp.zeros((num_subsets,), jnp.float32))
    self.beta = nnx.Param(jnp.zeros((num_subsets,), jnp.float32))
    self.pre = conv2d(c_in, width, rngs=rngs)
    self.pre_bn = layers.BatchNorm(width)
    self.post = conv2d(width, c_out, rngs=rngs)
    if ctr is not None or ada is not None:
      self.conv1 = conv2d(c_in, width, rngs=rngs)
      self.conv2 = conv2d(c_in, width, rngs=rngs)
    self.down = Down(c_in, c_out, init='torch', rngs=rngs) if c_in != c_out else None
    self.bn = layers.BatchNorm(c_out)

  def _coeff(self, coeff: jax.Array, trailing: int) -> jax.Array:
    """``alpha`` / ``beta`` as a multiplier of a ``[B, K, *trailing dims]`` graph."""
    return coeff.reshape((-1,) + (1,) * trailing) if self.subset_wise else coeff[0]

  def graph(self, x: jax.Array) -> jax.Array:
    """The graph each group aggregates over: ``[K, V, W]`` (static), ``[B, K, V, W]`` (``ada`` only) or
    ``[B, K, mid, V, W]`` (``ctr``: one graph per channel)."""
    static = self.A[...]
    if self.ctr is None and self.ada is None:
      return static
    b, _, v, _ = x.shape
    pooled = x.mean(axis=1, keepdims=True)  # [B, 1, V, Ci]: the graphs see the time-averaged input
    x1 = self.conv1(pooled).reshape(b, v, self.num_subsets, self.mid).transpose(0, 2, 3, 1)  # [B, K, mid, V]
    x2 = self.conv2(pooled).reshape(b, v, self.num_subsets, self.mid).transpose(0, 2, 3, 1)
    graph = static[None]
    if self.ada is not None:
      affinity = jnp.einsum('bkcv,bkcw->bkvw', x1, x2)
      graph = graph + ACTIVATIONS[self.ada_act](affinity) * self._coeff(self.beta[...], 2)
    if self.ctr is not None:
      correlation = ACTIVATIONS[self.ctr_act](x1[..., :, None] - x2[..., None, :])  # [B, K, mid, V, W]
      graph = graph[:, :, None] + correlation * self._coeff(self.alpha[...], 3)
    return graph

  def __call__(self, x: jax.Array) -> jax.Array:
    b, t, v, _ = x.shape
    residual = self.down(x) if self.down is not None else x
    pre = jax.nn.relu(self.pre_bn(self.pre(x))).reshape(b, t, v, self.num_subsets, self.mid)
    graph = self.graph(x).astype(pre.dtype)
    equation = {3: 'btvkc,kvw->btwkc', 4: 'btvkc,bkvw->btwkc', 5: 'btvkc,bkcvw->btwkc'}[graph.ndim]
    y = jnp.einsum(equation, pre, graph)
    y = self.post(y.reshape(b, t, v, -1))
    return jax.nn.relu(self.bn(y) + residual)
