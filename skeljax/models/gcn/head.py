"""Classification head of the GCN recognizers: mean over (T, V), mean over persons, dropout, linear.

MMAction2 1.x ``GCNHead`` uses a Linear; 0.x ``STGCNHead`` uses a 1x1 Conv2d on the pooled (N, C, 1, 1)
feature, which is the same affine map (its checkpoint kernel is squeezed on import). Both init the weight
N(0, 0.01^2) and the bias 0.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.gcn.units.conv import zeros_init

HEAD_TYPES = ('gcn', 'stgcn0x')


class GCNHead(nnx.Module):
  """``[N * M, T, V, C] -> [N, num_classes]`` raw class scores (M = persons per clip, given per call)."""

  def __init__(self, in_channels: int, num_classes: int, *, dropout: float = 0.0, head_type: str = 'gcn',
               rngs: nnx.Rngs):
    if head_type not in HEAD_TYPES:
      raise ValueError(f'head must be one of {HEAD_TYPES}, got {head_type!r}')
    if head_type == 'stgcn0x' and dropout:
      raise ValueError('the 0.x STGCNHead has no dropout; use head="gcn" for head_dropout > 0')
    self.head_type = head_type
    self.drop = nnx.Dropout(dropout, rngs=rngs) if dropout > 0 else None
    self.fc = nnx.Linear(in_channels, num_classes, kernel_init=jax.nn.initializers.normal(0.01),
                         bias_init=zeros_init, rngs=rngs)
    # Set by ``model.eval()`` as on BatchNorm: picks how the pooling reads its input, never the arithmetic.
    self.use_running_average = False

  def pool(self, x: jax.Array, num_person: int) -> jax.Array:
    """``[N * M, T, V, C] -> [N, C]``: the feature the final linear layer sees."""
    b, _, _, c = x.shape
    if b % num_person:
      raise ValueError(f'head got {b} person-clips, not a multiple of num_person={num_person}')
    x = self._materialised_in_eval(x)
    return jnp.mean(x, axis=(1, 2)).reshape(b // num_person, num_person, c).mean(axis=1)

  def _materialised_in_eval(self, x: jax.Array) -> jax.Array:
    """In eval mode the mean reads the backbone's output materialised.

    XLA:CPU otherwise fuses the last block's temporal convolution, BatchNorm, residual and ReLU into YNNPACK's
    reduction (ST-GCN eval step +4-12 %). The division by a 1 made from each sample's own first value
    (``0 * v``: exactly 1 for a finite v, and a non-finite v only reaches its own sample) waits for x, so x is
    computed once; a parameter's 1 (``layers.unfused``) became a multiplication that YNNPACK fused as well.
    A training step already materialises each GCN block's output for its backward pass.
    """
    if not self.use_running_average:
      return x
    one = layers.runtime_one(x[:, 0, 0, 0] * 0).astype(x.dtype)
    return x / one[:, None, None, None]

  def __call__(self, x: jax.Array, num_person: int) -> jax.Array:
    """``[N * M, T, V, C] -> [N, num_classes]``."""
    x = self.pool(x, num_person)
    if self.drop is not None:
      x = self.drop(x)
    return self.fc(x)
