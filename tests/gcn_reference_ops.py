"""NumPy transcriptions of PyTorch's GCN building blocks in its ``[N, C, T, V]`` layout (float64), on skeljax
modules' own parameters, for the unit tests that check options the parity fixtures do not exercise."""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from flax import nnx

EPS = 1e-5


def randomise(module: nnx.Module, seed: int) -> None:
  """Every parameter and BN statistic random (variances positive), so no term of the forward is trivial."""
  rng = np.random.default_rng(seed)
  state = nnx.state(module, nnx.Any(nnx.Param, nnx.BatchStat))
  flat = {path: (rng.uniform(0.5, 1.5, v.shape) if path[-1] == 'var' else rng.normal(0, 0.5, v.shape))
          for path, v in nnx.to_flat_state(state)}
  nnx.update(module, nnx.from_flat_state({p: jnp.asarray(v, jnp.float32) for p, v in flat.items()}))


def conv(x, layer, stride=1, dilation=1):
  """PyTorch Conv2d (k, 1), padding (k + (k - 1)(d - 1) - 1) // 2, on skeljax's kernel [k, 1, I, O]."""
  w, b = np.asarray(layer.kernel[...], np.float64), np.asarray(layer.bias[...], np.float64)
  k = w.shape[0]
  pad = (k + (k - 1) * (dilation - 1) - 1) // 2
  xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (0, 0)))
  t_out = (x.shape[2] + 2 * pad - dilation * (k - 1) - 1) // stride + 1
  out = sum(np.einsum('io,nitv->notv', w[j, 0], xp[:, :, j * dilation:j * dilation + stride * (t_out - 1) + 1:stride])
            for j in range(k))
  return out + b[None, :, None, None]


def bn(x, layer):
  """BatchNorm2d in eval mode."""
  mean, var, scale, bias = (np.asarray(getattr(layer, n)[...], np.float64)[None, :, None, None]
                            for n in ('mean', 'var', 'scale', 'bias'))
  return (x - mean) / np.sqrt(var + EPS) * scale + bias


def relu(x):
  return np.maximum(x, 0)


def max_pool(x, stride):
  """MaxPool2d((3, 1), (stride, 1), (1, 0)) (padding never wins)."""
  xp = np.pad(x, ((0, 0), (0, 0), (1, 1), (0, 0)), constant_values=-np.inf)
  t_out = (x.shape[2] - 1) // stride + 1
  return np.max(np.stack([xp[:, :, j:j + stride * (t_out - 1) + 1:stride] for j in range(3)]), axis=0)
