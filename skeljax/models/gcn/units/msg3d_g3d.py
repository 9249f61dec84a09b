"""MS-G3D's G3D pathway: graph convolution over spatial-temporal windows (``MW_MSG3DBlock``).

Each window of ``w`` consecutive frames becomes one graph of ``w * V`` nodes whose adjacency tiles
``A + I`` w x w times (every joint links to itself and its neighbours in every frame of the window). A
multi-scale graph convolution (``ST_MSGCN``) runs on those windows, then a learned map over the window's
frames collapses them back to one frame (the reference's Conv3d with kernel ``(1, w, 1)``) and a BN follows.
Two window sizes (3 and 5) run side by side and are summed.

The collapse is written as a 1x1 ``conv2d`` over ``[B, T', V, w * C]`` (window-major channels): the same
parameters as the Conv3d (its kernel reshaped on import) and the same PyTorch default init (fan-in
``w * C``), so it shares ``TimeConv``'s matmul lowering.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import conv2d
from skeljax.models.gcn.units.msg3d_gcn import MultiScaleGraphConv


def window_padding(window: int, dilation: int = 1) -> int:
  """Frames of zero padding on each side (``UnfoldTemporalWindows``: centred windows)."""
  return (window + (window - 1) * (dilation - 1) - 1) // 2


def unfold_windows(x: jax.Array, window: int, stride: int = 1, dilation: int = 1) -> jax.Array:
  """``nn.Unfold`` over time: ``[B, T, V, C] -> [B, T', window * V, C]``, node ``j * V + v`` = frame j of window.

  Window t' covers padded frames ``t' * stride + j * dilation`` (zero padding ``window_padding`` each side);
  ``T' = (T + 2 * pad - dilation * (window - 1) - 1) // stride + 1``.
  """
  b, t, v, c = x.shape
  pad = window_padding(window, dilation)
  x = jnp.pad(x, ((0, 0), (pad, pad), (0, 0), (0, 0)))
  span = dilation * (window - 1) + 1
  num_windows = (t + 2 * pad - span) // stride + 1
  frames = [x[:, j * dilation: j * dilation + stride * (num_windows - 1) + 1: stride] for j in range(window)]
  return jnp.stack(frames, axis=2).reshape(b, num_windows, window * v, c)


def window_graph(adjacency: np.ndarray, window: int) -> np.ndarray:
  """``tile(A + I, (w, w))``: the ``[w V, w V]`` graph of one window (``ST_MSGCN.build_st_graph``)."""
  adjacency = np.asarray(adjacency, np.float64)
  return np.tile(adjacency + np.eye(len(adjacency)), (window, window))


class WindowGraphConv(MultiScaleGraphConv):
  """``ST_MSGCN`` (no residual): ``MSGCN``'s multi-scale aggregation, 1x1 conv, BN and ReLU over window graphs.

  ``[B, T', w * V, Ci] -> [B, T', w * V, Co]``; buffer ``A [K, wV, wV]``, learned offset ``PA``. The reference
  applies ReLU twice here (the MLP's, then the unit's activation); once is the same function.
  """

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, num_scales: int, window: int, *,
               rngs: nnx.Rngs):
    super().__init__(num_scales, c_in, c_out, window_graph(adjacency, window), rngs=rngs)


class G3DWindowPathway(nnx.Module):
  """``MSG3DBlock`` (embed_factor 1): unfold windows -> ``WindowGraphConv`` -> collapse the window -> BN.

  ``[B, T, V, Ci] -> [B, T', V, Co]``, no activation. The window graph keeps ``Ci`` channels and the
  collapse changes them, except for 3-channel input, where the graph conv goes straight to ``Co``
  (the reference's rule, keyed on ``in_channels == 3``).
  """

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, num_scales: int, window: int,
               stride: int, dilation: int = 1, *, rngs: nnx.Rngs):
    self.window, self.stride, self.dilation = window, stride, dilation
    c_embed = c_out if c_in == 3 else c_in
    self.gcn = WindowGraphConv(c_in, c_embed, adjacency, num_scales, window, rngs=rngs)
    self.out_conv = conv2d(window * c_embed, c_out, init='torch', rngs=rngs)
    self.out_bn = layers.BatchNorm(c_out)

  def __call__(self, x: jax.Array) -> jax.Array:
    b, _, v, _ = x.shape
    y = self.gcn(unfold_windows(x, self.window, self.stride, self.dilation))
    t_out, c = y.shape[1], y.shape[-1]
    # [B, T', w * V, C] -> [B, T', V, w * C]: channel j * C + c is frame j of the window.
    y = y.reshape(b, t_out, self.window, v, c).transpose(0, 1, 3, 2, 4).reshape(b, t_out, v, self.window * c)
    return self.out_bn(self.out_conv(y))


class MultiWindowG3D(nnx.Module):
  """``MW_MSG3DBlock``: the sum of ``G3DWindowPathway`` over window sizes (3, 5) with dilations (1, 1)."""

  def __init__(self, c_in: int, c_out: int, adjacency: np.ndarray, num_scales: int, *, window_stride: int = 1,
               window_sizes: tuple[int, ...] = (3, 5), window_dilations: tuple[int, ...] = (1, 1),
               rngs: nnx.Rngs):
    if len(window_sizes) != len(window_dilations):
      raise ValueError(f'window_sizes {window_sizes} and window_dilations {window_dilations} differ in length')
    self.pathways = nnx.List([
        G3DWindowPathway(c_in, c_out, adjacency, num_scales, window, window_stride, dilation, rngs=rngs)
        for window, dilation in zip(window_sizes, window_dilations)])

  def __call__(self, x: jax.Array) -> jax.Array:
    return sum(pathway(x) for pathway in self.pathways)
