"""The GCN backbone shared by ST-GCN, 0.x AGCN and 1.x AAGCN; only the graph unit differs.

Default layer list (MMAction2 ``base_channels=64, num_stages=10, inflate_stages=[5, 8], down_stages=[5, 8]``):
3->64 (no residual), 64 x3, 64->128 /2, 128 x2, 128->256 /2, 256 x2. A block is ``ReLU(tcn(gcn(x)) + residual(x))``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.models import layers
from skeljax.models.recompute import call_recomputed
from skeljax.models.gcn.units.conv import Adjacency, check_adjacency
from skeljax.models.gcn.units.temporal_conv import TemporalConv

# (c_in, c_out, adjacency, rngs) -> module mapping [B, T, V, c_in] -> [B, T, V, c_out]
GcnUnitFn = Callable[[int, int, np.ndarray, nnx.Rngs], nnx.Module]
# (c_in, c_out, stride, dropout, rngs) -> module mapping [B, T, V, c_in] -> [B, ceil(T / stride), V, c_out]
TcnUnitFn = Callable[[int, int, int, float, nnx.Rngs], nnx.Module]

DATA_BN_TYPES = ('VC', 'MVC', None)


def stage_specs(in_channels: int, base_channels: int = 64, num_stages: int = 10,
                inflate_stages=(5, 8), down_stages=(5, 8)) -> list[tuple[int, int, int, str]]:
  """``(c_in, c_out, stride, residual)`` per block; residual is 'none', 'identity' or 'conv'."""
  specs = [(in_channels, base_channels, 1, 'none')]
  c_in = base_channels
  for stage in range(2, num_stages + 1):
    c_out = c_in * (2 if stage in inflate_stages else 1)
    stride = 2 if stage in down_stages else 1
    specs.append((c_in, c_out, stride, 'identity' if (c_in == c_out and stride == 1) else 'conv'))
    c_in = c_out
  return specs


class DataBN(nnx.Module):
  """Input BatchNorm1d over joints x channels per person ('VC') or over persons too ('MVC').

  ``[N, M, T, V, C] -> [N * M, T, V, C]``. Feature order matches PyTorch: ``v * C + c`` (VC),
  ``m * V * C + v * C + c`` (MVC), so ``data_bn`` checkpoint tensors load unchanged.
  """

  def __init__(self, kind: str | None, num_person: int, num_node: int, in_channels: int):
    if kind not in DATA_BN_TYPES:
      raise ValueError(f'data_bn_type must be one of {DATA_BN_TYPES}, got {kind!r}')
    self.kind = kind
    self.num_person = num_person
    size = {'VC': num_node * in_channels, 'MVC': num_person * num_node * in_channels, None: 0}[kind]
    self.bn = layers.BatchNorm(size) if kind is not None else None

  def __call__(self, x: jax.Array) -> jax.Array:
    n, m, t, v, c = x.shape
    if self.kind == 'VC':
      x = self.bn(x.reshape(n * m, t, v * c))
    elif self.kind == 'MVC':
      if m != self.num_person:
        raise ValueError(f"data_bn_type 'MVC' was built for num_person={self.num_person}, input has M={m}")
      x = jnp.transpose(x, (0, 2, 1, 3, 4)).reshape(n, t, m * v * c)
      x = jnp.transpose(self.bn(x).reshape(n, t, m, v, c), (0, 2, 1, 3, 4))
    return x.reshape(n * m, t, v, c)


class GCNBlock(nnx.Module):
  """``ReLU(tcn(gcn(x)) + residual(x))``; residual is none, identity, or a strided 1x1 conv + BN."""

  def __init__(self, gcn: nnx.Module, tcn: nnx.Module, residual_kind: str,
               residual: nnx.Module | None = None):
    if residual_kind not in ('none', 'identity', 'conv'):
      raise ValueError(f'unknown residual kind {residual_kind!r}')
    self.gcn = gcn
    self.tcn = tcn
    self.residual_kind = residual_kind
    self.residual = residual
    # Set by ``model.eval()`` as on BatchNorm: an eval step has no backward pass, whose recomputation the
    # materialised block output below is there to avoid.
    self.use_running_average = False

  def __call__(self, x: jax.Array) -> jax.Array:
    anchor = jax.tree.leaves(nnx.state(self.tcn, nnx.Param))[0]
    # The temporal conv's kernel gradient reads a materialised copy of its input, not the gcn unit's recomputed
    # BatchNorm / residual / ReLU chain (AAGCN train step 2.45 -> 2.34 s; BENCHMARKS.md).
    h = layers.unfused(self.gcn(x), anchor)
    y = self.tcn(h)
    if self.residual_kind == 'identity':
      y = y + x
    elif self.residual_kind == 'conv':
      y = y + self.residual(x)
    return self._materialised_in_training(jax.nn.relu(y), anchor)

  def _materialised_in_training(self, y: jax.Array, anchor: jax.Array) -> jax.Array:
    """In training, the backward pass's ReLU masks and the next blocks read the block's output materialised.

    XLA:CPU otherwise fuses its BatchNorm / residual / ReLU chain, back through the identity residuals of
    earlier blocks and the transposes out of their temporal convs, into each consumer (up to four blocks'
    chains in one fusion; AAGCN train step -3 to -5 %, ST-GCN -3 %). Inference has no such consumers, and
    the extra pass would cost it (ST-GCN eval +2.7 %).
    """
    return y if self.use_running_average else layers.unfused(y, anchor)


class GCNBackbone(nnx.Module):
  """Data BN + ``num_stages`` GCN blocks: ``[N, M, T, V, C] -> [N * M, ceil(T / 4), V, 256]`` by default.

  ``gcn_unit_fn`` builds each block's graph unit; ``tcn_unit_fn(c_in, c_out, stride, dropout, rngs)`` its
  temporal unit (default MMAction2's ``unit_tcn``, a 9-frame conv + BN; ST-GCN's ``tcn_type='mstcn'``, CTR-GCN's
  MSTCN), ``tcn_dropout`` for every block but the first, as in MMAction2. A block whose shape changes has a
  strided 1x1 conv + BN residual (``unit_tcn(kernel_size=1)``). ``conv_init`` ('kaiming' or 'torch')
  initialises the default temporal convs and the residual convs.
  ``base_channels``, ``num_stages``, ``inflate_stages`` and ``down_stages`` are MMAction2 1.x's (channels x2
  and time /2 at those stages; 0.x fixes them at 64, 10, (5, 8), (5, 8)).
  ``with_cp`` (MMAction2 ResNet3d's name): each block's backward pass recomputes its forward pass instead of
  keeping its activations (``recompute.call_recomputed``): less memory, more compute.
  """

  def __init__(self, adjacency: np.ndarray, gcn_unit_fn: GcnUnitFn, *, tcn_unit_fn: TcnUnitFn | None = None,
               in_channels: int = 3, num_person: int = 2, data_bn_type: str | None = 'VC', tcn_dropout: float = 0.0,
               conv_init: str = 'kaiming', base_channels: int = 64, num_stages: int = 10,
               inflate_stages: Sequence[int] = (5, 8), down_stages: Sequence[int] = (5, 8), with_cp: bool = False,
               rngs: nnx.Rngs):
    if tcn_unit_fn is None:
      def tcn_unit_fn(c_in, c_out, stride, dropout, unit_rngs):
        return TemporalConv(c_in, c_out, kernel_size=9, stride=stride, dropout=dropout, init=conv_init,
                            rngs=unit_rngs)
    adjacency = check_adjacency(adjacency)
    num_node = adjacency.shape[-1]
    self.with_cp = with_cp
    self.num_node = num_node
    self.in_channels = in_channels
    # The configured graph, kept so a checkpoint's graph buffers can be verified against it.
    self.A = Adjacency(jnp.asarray(adjacency))
    self.data_bn = DataBN(data_bn_type, num_person, num_node, in_channels)
    specs = stage_specs(in_channels, base_channels, num_stages, tuple(inflate_stages), tuple(down_stages))
    blocks = []
    for i, (c_in, c_out, stride, residual_kind) in enumerate(specs):
      gcn = gcn_unit_fn(c_in, c_out, adjacency, rngs)
      tcn = tcn_unit_fn(c_out, c_out, stride, tcn_dropout if i else 0.0, rngs)
      residual = (TemporalConv(c_in, c_out, kernel_size=1, stride=stride, init=conv_init, rngs=rngs)
                  if residual_kind == 'conv' else None)
      blocks.append(GCNBlock(gcn, tcn, residual_kind, residual))
    self.blocks = nnx.List(blocks)
    self.out_channels = specs[-1][1]

  def __call__(self, x: jax.Array) -> jax.Array:
    if x.ndim != 5:
      raise ValueError(f'GCN backbone input must be [N, M, T, V, C], got shape {x.shape}')
    if x.shape[3] != self.num_node or x.shape[4] != self.in_channels:
      raise ValueError(f'GCN backbone built for V={self.num_node}, C={self.in_channels}; '
                       f'input has V={x.shape[3]}, C={x.shape[4]}')
    x = self.data_bn(x)
    for block in self.blocks:
      x = call_recomputed(block, x) if self.with_cp else block(x)
    return x
