"""``unit_tcn``: the temporal convolution + BatchNorm (+ Dropout) of every GCN block."""

from __future__ import annotations

import jax
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import conv2d


class TemporalConv(nnx.Module):
  """``unit_tcn``: Conv (k, 1) with stride (s, 1) -> BN -> Dropout. ``[B, T, V, Ci] -> [B, ceil(T/s), V, Co]``.

  With ``kernel_size=1`` it is the strided 1x1 conv + BN residual of a block whose shape changes.
  """

  def __init__(self, c_in: int, c_out: int, *, kernel_size: int = 9, stride: int = 1, dilation: int = 1,
               dropout: float = 0.0, init: str = 'kaiming', rngs: nnx.Rngs):
    self.conv = conv2d(c_in, c_out, kernel=(kernel_size, 1), stride=stride, dilation=dilation, init=init,
                       rngs=rngs)
    self.bn = layers.BatchNorm(c_out)
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None

  def __call__(self, x: jax.Array) -> jax.Array:
    x = self.bn(self.conv(x))
    return self.drop(x) if self.drop is not None else x
