"""PoseC3D's fast lowerings: ``VolumeConv`` computes what ``nnx.Conv`` computes, ``spatial_max_pool`` what
PyTorch's ``MaxPool3d`` computes, gradients included."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from skeljax.models.volume_conv import VolumeConv
from skeljax.models.volume_pool import spatial_max_pool

# (kernel, stride, padding): every form of the (4, 6, 3) and (3, 4, 6) backbones, plus the fallbacks.
CONV_CASES = [
    ((1, 1, 1), (1, 1, 1), (0, 0, 0)),  # bottleneck 1x1x1
    ((1, 1, 1), (1, 2, 2), (0, 0, 0)),  # downsample
    pytest.param((1, 1, 1), (2, 2, 2), (0, 0, 0), marks=pytest.mark.slow),  # downsample with a temporal stride
    ((1, 3, 3), (1, 1, 1), (0, 1, 1)),  # conv2
    ((1, 3, 3), (1, 2, 2), (0, 1, 1)),  # strided conv2 (polyphase)
    pytest.param((1, 3, 3), (2, 2, 2), (0, 1, 1), marks=pytest.mark.slow),
    ((3, 1, 1), (1, 1, 1), (1, 0, 0)),  # inflated conv1 (matmul + shifted sums)
    ((1, 7, 7), (1, 1, 1), (0, 3, 3)),  # stem
    pytest.param((1, 7, 7), (1, 2, 2), (0, 3, 3), marks=pytest.mark.slow),
    pytest.param((3, 3, 3), (1, 1, 1), (1, 1, 1), marks=pytest.mark.slow),  # inflate_style 3x3x3: falls back to nnx.Conv
    pytest.param((3, 1, 1), (2, 1, 1), (1, 0, 0), marks=pytest.mark.slow),  # temporal stride with kt > 1: falls back
]


@pytest.mark.parametrize('kernel,stride,padding', CONV_CASES)
def test_volume_conv_equals_nnx_conv_with_gradients(kernel, stride, padding):
  conv = VolumeConv(5, 7, kernel, strides=stride, padding=tuple((p, p) for p in padding), use_bias=True,
                    rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(1), (2, 9, 11, 10, 5))
  graphdef, state = nnx.split(conv)
  weights = jax.random.normal(jax.random.key(2), nnx.Conv.__call__(conv, x).shape)

  def loss(call):
    return lambda state, x: (call(nnx.merge(graphdef, state), x) * weights).sum()

  (v1, g1), (v2, g2) = (jax.value_and_grad(loss(call), argnums=(0, 1))(state, x)
                        for call in (VolumeConv.__call__, nnx.Conv.__call__))
  assert conv(x).shape == nnx.Conv.__call__(conv, x).shape
  np.testing.assert_allclose(conv(x), nnx.Conv.__call__(conv, x), rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):  # kernel, bias, input
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)


def _torch_max_pool_oracle(x, window, stride, pad):
  """PyTorch's MaxPool: -inf padding; the gradient goes to the first maximum of a window in row-major order."""
  n, t, h, w, c = x.shape
  xp = np.full((n, t, h + 2 * pad, w + 2 * pad, c), -np.inf, np.float64)
  xp[:, :, pad:pad + h, pad:pad + w] = x
  ho, wo = (h + 2 * pad - window) // stride + 1, (w + 2 * pad - window) // stride + 1
  y = np.zeros((n, t, ho, wo, c))
  argmax = np.zeros((n, t, ho, wo, c, 2), int)
  for idx in np.ndindex(n, t, ho, wo, c):
    a, b, i, j, k = idx
    best = -np.inf
    for di in range(window):
      for dj in range(window):
        v = xp[a, b, i * stride + di, j * stride + dj, k]
        if v > best:
          best, argmax[idx] = v, (i * stride + di - pad, j * stride + dj - pad)
    y[idx] = best
  return y, argmax


@pytest.mark.parametrize('stride', [1, 2])
def test_spatial_max_pool_matches_pytorch_routing(stride):
  rng = np.random.default_rng(0)
  x = rng.normal(size=(2, 2, 7, 6, 3))
  x[x < 0.3] = 0.0  # post-ReLU maps: many exact ties
  x[0, 0, 2, 2, 0] = x[0, 0, 2, 3, 0] = x[0, 0, 3, 2, 0] = 4.0  # a tie at a window's maximum
  x = x.astype(np.float32)
  y_ref, argmax = _torch_max_pool_oracle(x, 3, stride, 1)
  dy = rng.normal(size=y_ref.shape).astype(np.float32)
  dx_ref = np.zeros_like(x)
  for idx in np.ndindex(y_ref.shape):
    a, b, _, _, k = idx
    dx_ref[a, b, argmax[idx][0], argmax[idx][1], k] += dy[idx]

  def pool(x):
    return spatial_max_pool(x, (3, 3), (stride, stride), ((1, 1), (1, 1)))

  y, vjp = jax.vjp(pool, jnp.asarray(x))
  np.testing.assert_array_equal(np.asarray(y), y_ref.astype(np.float32))
  np.testing.assert_allclose(np.asarray(vjp(jnp.asarray(dy))[0]), dx_ref, rtol=1e-6, atol=1e-6)
