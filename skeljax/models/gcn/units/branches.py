"""The branches of a multi-scale temporal unit, their 1x1 entry convs run side by side as one matmul.

ST-GCN++'s ``mstcn`` and DG-STGCN's ``dgmstcn`` open five of their six branches with a narrow 1x1 conv of the
unit's input (``C / 6`` channels each), and a sixth branch is a 1x1 conv of it. XLA:CPU runs products that
narrow, and above all their kernel gradients (a transposed left operand, in XLA's own dot), far below its
matmul rate: in ST-GCN++'s train step at batch 8 the narrow products took ~0.48 s of 2.65 s on one core for
~20 GFLOP (12-60 GFLOP/s against ~150). Here those convs are one matmul to the branches' summed width, its
output split by channels; each branch goes on from its slice. Parameters and checkpoint layout stay one conv
per branch, and the arithmetic is the same dot products (train step: ST-GCN++ -5.7 %, DG-STGCN -3.5 %;
CTR-GCN's four wider branches and MS-G3D's temporal units gained nothing measurable and call their branches
one by one; BENCHMARKS.md).

A branch takes part in ``run_branches`` when it is a ``Branch`` whose ``entry`` is an unstrided 1x1
``TimeConv``, or is itself an unstrided 1x1 ``TimeConv``; any other branch is called as it is.

``activated`` is the branches' other shared piece: a conv branch's ``relu(bn(.))``, the input of its temporal
conv, read materialised in training (every multi-scale unit, CTR-GCN's and MS-G3D's included).
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import TimeConv, pointwise


class Branch(nnx.Module):
  """A branch that opens with a 1x1 conv of the unit's input (``entry``) and goes on from its output (``tail``)."""

  @property
  def entry(self) -> TimeConv:
    raise NotImplementedError

  def tail(self, z: jax.Array) -> jax.Array:
    raise NotImplementedError

  def __call__(self, x: jax.Array) -> jax.Array:
    return self.tail(self.entry(x))


def _entry(branch: nnx.Module) -> TimeConv | None:
  conv = branch.entry if isinstance(branch, Branch) else branch if isinstance(branch, TimeConv) else None
  if conv is None or tuple(conv.kernel_size) != (1, 1) or tuple(conv.strides) != (1, 1):
    return None
  return conv


def run_branches(x: jax.Array, branches: Sequence[nnx.Module]) -> list[jax.Array]:
  """Every branch's output for input ``x``, in order, the branches' 1x1 entry convs as one matmul."""
  entries = [_entry(branch) for branch in branches]
  shared = [i for i, conv in enumerate(entries) if conv is not None]
  if len(shared) < 2:
    return [branch(x) for branch in branches]
  opened = dict(zip(shared, concatenated_pointwise(x, [entries[i] for i in shared])))
  outputs = []
  for i, branch in enumerate(branches):
    if i not in opened:
      outputs.append(branch(x))
    elif isinstance(branch, TimeConv):
      outputs.append(opened[i])
    else:
      outputs.append(branch.tail(opened[i]))
  return outputs


def concatenated_pointwise(x: jax.Array, convs: Sequence[TimeConv]) -> list[jax.Array]:
  """Unstrided 1x1 convs of one input, any widths, as one matmul: each conv's output ``[..., Co_i]``."""
  kernel = jnp.concatenate([conv.kernel[...][0, 0] for conv in convs], axis=-1)
  x, kernel = convs[0].promote_dtype((x, kernel), dtype=convs[0].dtype)
  y = pointwise(x, kernel)
  if any(conv.bias is not None for conv in convs):
    bias = jnp.concatenate([conv.bias[...] if conv.bias is not None else jnp.zeros((conv.out_features,))
                            for conv in convs])
    y = y + bias.astype(y.dtype)
  return jnp.split(y, np.cumsum([conv.out_features for conv in convs])[:-1].tolist(), axis=-1)


def activated(z: jax.Array, bn: layers.BatchNorm) -> jax.Array:
  """``relu(bn(z))``, the input of a branch's temporal conv; in training read materialised.

  XLA:CPU otherwise fuses the BatchNorm and ReLU into the ``[C, T, V, B]`` copy it makes of the conv's input
  for the kernel gradient, which then recomputes them in transposed order (ST-GCN++ at batch 8, one core: 4-5 ms
  a copy of a ``C / 6``-wide branch, about 1 ms for copying the materialised tensor). Same division by a runtime 1
  as ``layers.unfused`` at the GCN blocks' temporal convs; train step ST-GCN++ -3.7 %, DG-STGCN -1.6 %,
  CTR-GCN -2.0 %, MS-G3D unchanged. Eval mode has no kernel gradient and keeps the fusion.
  """
  h = jax.nn.relu(bn(z))
  if bn.use_running_average:
    return h
  return layers.unfused(h, bn.scale[...])
