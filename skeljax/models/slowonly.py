"""ResNet3dSlowOnly, the PoseC3D backbone, channel-last (``[N, T, H, W, C]``).

Mirrors MMAction2's ``ResNet3dSlowOnly`` (= ``ResNet3dPathway`` without lateral connections) with the
Bottleneck3d block, keeping its argument names so that configs read alike. Module attribute names follow
the MMAction2 state-dict names (``conv1.conv``, ``layer2[3].conv1.bn``, ``downsample``) so that checkpoint
import is a plain renaming. Padding is always explicit and PyTorch-symmetric: Flax 'SAME' pads strided
convolutions asymmetrically and would shift every feature map by one pixel.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
from flax import nnx

from skeljax.models import layers
from skeljax.models.recompute import call_recomputed
from skeljax.models.volume_conv import VolumeConv
from skeljax.models.volume_pool import spatial_max_pool

# depth -> default blocks per stage (MMAction2 ``ResNet3d.arch_settings``, Bottleneck3d depths only).
BOTTLENECK_DEPTHS = {50: (3, 4, 6, 3), 101: (3, 4, 23, 3), 152: (3, 8, 36, 3)}


def _triple(value: int | Sequence[int]) -> tuple[int, int, int]:
  if isinstance(value, int):
    return (value, value, value)
  value = tuple(int(v) for v in value)
  if len(value) != 3:
    raise ValueError(f'expected an int or 3 values, got {value}')
  return value


def _per_stage(value, num_stages: int, name: str) -> tuple:
  """Broadcasts an int to every stage (MMAction2's ``_ntuple``); checks a sequence's length."""
  if isinstance(value, int):
    return (value,) * num_stages
  value = tuple(value)
  if len(value) != num_stages:
    raise ValueError(f'{name} has {len(value)} entries, expected num_stages={num_stages}')
  return value


class ConvModule(nnx.Module):
  """Conv3d (no bias) + BatchNorm + optional ReLU; mmcv's ``ConvModule`` with ``conv``/``bn`` children."""

  def __init__(self, in_channels: int, out_channels: int, kernel_size, *, stride=1, padding=0,
               dilation=1, activate: bool = True, bn_scale_init: float = 1.0,
               dtype=None, rngs: nnx.Rngs):
    self.activate = activate
    self.conv = VolumeConv(
        in_channels, out_channels, _triple(kernel_size), strides=_triple(stride),
        padding=tuple((p, p) for p in _triple(padding)), kernel_dilation=_triple(dilation),
        use_bias=False, dtype=dtype, param_dtype=jnp.float32,
        kernel_init=layers.kaiming_normal_fan_out(), rngs=rngs)
    self.bn = layers.BatchNorm(out_channels, scale_init=bn_scale_init)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[N, T, H, W, in_channels]`` -> ``[N, T', H', W', out_channels]``."""
    x = self.bn(self.conv(x))
    return jax.nn.relu(x) if self.activate else x


class Bottleneck3d(nnx.Module):
  """ResNet3d bottleneck: 1x1x1 (or 3x1x1 inflated) -> 1x3x3 (strided, 'pytorch' style) -> 1x1x1 (x4)."""

  expansion = 4

  def __init__(self, inplanes: int, planes: int, *, spatial_stride: int = 1, temporal_stride: int = 1,
               dilation: int = 1, downsample: bool = False, style: str = 'pytorch',
               inflate: bool = True, inflate_style: str = '3x1x1', zero_init_residual: bool = True,
               dtype=None, rngs: nnx.Rngs):
    if style not in ('pytorch', 'caffe'):
      raise ValueError(f"style must be 'pytorch' or 'caffe', got {style!r}")
    if inflate_style not in ('3x1x1', '3x3x3'):
      raise ValueError(f"inflate_style must be '3x1x1' or '3x3x3', got {inflate_style!r}")
    stride = (temporal_stride, spatial_stride, spatial_stride)
    # 'pytorch' puts the stride in the 3x3 conv, 'caffe' in the first 1x1 conv.
    conv1_stride, conv2_stride = ((1, 1, 1), stride) if style == 'pytorch' else (stride, (1, 1, 1))
    if inflate and inflate_style == '3x1x1':
      conv1_kernel, conv1_pad, conv2_kernel, conv2_pad = (3, 1, 1), (1, 0, 0), (1, 3, 3), (0, dilation, dilation)
    elif inflate:
      conv1_kernel, conv1_pad, conv2_kernel, conv2_pad = (1, 1, 1), (0, 0, 0), (3, 3, 3), (1, dilation, dilation)
    else:
      conv1_kernel, conv1_pad, conv2_kernel, conv2_pad = (1, 1, 1), (0, 0, 0), (1, 3, 3), (0, dilation, dilation)
    out_channels = planes * self.expansion
    self.conv1 = ConvModule(inplanes, planes, conv1_kernel, stride=conv1_stride, padding=conv1_pad,
                            dtype=dtype, rngs=rngs)
    self.conv2 = ConvModule(planes, planes, conv2_kernel, stride=conv2_stride, padding=conv2_pad,
                            dilation=(1, dilation, dilation), dtype=dtype, rngs=rngs)
    # zero_init_residual: the block starts as identity (its last BN scale is 0), as in MMAction2.
    self.conv3 = ConvModule(planes, out_channels, 1, activate=False,
                            bn_scale_init=0.0 if zero_init_residual else 1.0, dtype=dtype, rngs=rngs)
    self.downsample = (ConvModule(inplanes, out_channels, 1, stride=stride, activate=False, dtype=dtype,
                                  rngs=rngs) if downsample else None)

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[N, T, H, W, inplanes]`` -> ``[N, T/ts, H/ss, W/ss, 4 * planes]``."""
    # A stage's first block widens the residual 4x through a 1x1x1 conv + BN (strided with the stage): its BN
    # input, the widest activation of the stage, is recomputed from x (kept anyway) when the backward pass reaches
    # it, not kept (PoseC3D at batch 4: train-step temporaries 2389 -> 2269 MB, step time within noise;
    # BENCHMARKS.md).
    identity = x if self.downsample is None else call_recomputed(self.downsample, x)
    return jax.nn.relu(self.conv3(self.conv2(self.conv1(x))) + identity)


class ResNet3dSlowOnly(nnx.Module):
  """SlowOnly ResNet3d. Defaults are the PoseC3D keypoint/limb configs (not ResNet3d's RGB defaults).

  ``pretrained`` exists so that MMAction2 backbone dicts (which say ``pretrained=None``) can be used as is.
  ``with_cp`` (as MMAction2's): each Bottleneck3d's backward pass recomputes its forward pass instead of keeping
  its activations (``recompute.call_recomputed``): less memory, more compute.

  Attributes ``conv1`` (stem), ``layer1..layerN`` (``nnx.List`` of Bottleneck3d) match MMAction2's names.
  ``dtype`` forces a compute dtype (e.g. ``jnp.bfloat16``); ``None`` computes in the promoted dtype of the
  input and parameters (a bfloat16 train step casts both). Parameters and BN statistics stay float32.
  """

  def __init__(self, *, depth: int = 50, pretrained: str | None = None, in_channels: int = 17, base_channels: int = 32,
               num_stages: int = 3, out_indices: Sequence[int] = (2,),
               stage_blocks: Sequence[int] | None = (4, 6, 3),
               conv1_kernel: Sequence[int] = (1, 7, 7), conv1_stride_s: int = 1, conv1_stride_t: int = 1,
               pool1_stride_s: int = 1, pool1_stride_t: int = 1, with_pool1: bool = True,
               with_pool2: bool = False, inflate: Sequence[int] | int = (0, 1, 1),
               inflate_style: str = '3x1x1', spatial_strides: Sequence[int] = (2, 2, 2),
               temporal_strides: Sequence[int] = (1, 1, 2), dilations: Sequence[int] = (1, 1, 1),
               style: str = 'pytorch', zero_init_residual: bool = True, with_cp: bool = False, dtype=None,
               rngs: nnx.Rngs):
    if pretrained is not None:
      raise ValueError(f'pretrained={pretrained!r}: skeljax does not download weights; convert them with '
                       'skeljax.tools.convert_mmaction and start from that checkpoint')
    if depth not in BOTTLENECK_DEPTHS:
      raise NotImplementedError(f'depth {depth}: only Bottleneck3d depths {sorted(BOTTLENECK_DEPTHS)} '
                                'are implemented (BasicBlock3d depths 18/34 are not)')
    if not 1 <= num_stages <= 4:
      raise ValueError(f'num_stages must be in 1..4, got {num_stages}')
    stage_blocks = tuple(stage_blocks) if stage_blocks is not None else BOTTLENECK_DEPTHS[depth][:num_stages]
    if len(stage_blocks) != num_stages:
      raise ValueError(f'stage_blocks {stage_blocks} has {len(stage_blocks)} stages, num_stages={num_stages}')
    self.out_indices = tuple(out_indices)
    if not self.out_indices or max(self.out_indices) >= num_stages:
      raise ValueError(f'out_indices {self.out_indices} must be non-empty and < num_stages={num_stages}')
    spatial_strides = _per_stage(spatial_strides, num_stages, 'spatial_strides')
    temporal_strides = _per_stage(temporal_strides, num_stages, 'temporal_strides')
    dilations = _per_stage(dilations, num_stages, 'dilations')
    inflations = _per_stage(inflate, num_stages, 'inflate')
    dtype = None if dtype is None else jnp.dtype(dtype)
    self.dtype = dtype
    self.with_cp = with_cp
    self.num_stages = num_stages
    self.with_pool1, self.with_pool2 = with_pool1, with_pool2
    self.pool1_stride = (pool1_stride_t, pool1_stride_s, pool1_stride_s)

    conv1_kernel = _triple(conv1_kernel)
    self.conv1 = ConvModule(in_channels, base_channels, conv1_kernel,
                            stride=(conv1_stride_t, conv1_stride_s, conv1_stride_s),
                            padding=tuple((k - 1) // 2 for k in conv1_kernel), dtype=dtype, rngs=rngs)
    inplanes = base_channels
    for i, num_blocks in enumerate(stage_blocks):
      planes = base_channels * 2**i
      # A stage-wide int inflates every block; a sequence gives one flag per block (MMAction2 semantics).
      block_inflate = inflations[i]
      block_inflate = ((block_inflate,) * num_blocks if isinstance(block_inflate, int)
                       else tuple(block_inflate))
      if len(block_inflate) != num_blocks:
        raise ValueError(f'inflate for stage {i} has {len(block_inflate)} entries, expected {num_blocks}')
      needs_downsample = spatial_strides[i] != 1 or inplanes != planes * Bottleneck3d.expansion
      blocks = []
      for b in range(num_blocks):
        first = b == 0
        blocks.append(Bottleneck3d(
            inplanes if first else planes * Bottleneck3d.expansion, planes,
            spatial_stride=spatial_strides[i] if first else 1,
            temporal_stride=temporal_strides[i] if first else 1,
            dilation=dilations[i], downsample=first and needs_downsample, style=style,
            inflate=block_inflate[b] == 1, inflate_style=inflate_style,
            zero_init_residual=zero_init_residual, dtype=dtype, rngs=rngs))
      setattr(self, f'layer{i + 1}', nnx.List(blocks))
      inplanes = planes * Bottleneck3d.expansion
    self.feat_dim = inplanes

  def __call__(self, x: jax.Array) -> jax.Array | tuple[jax.Array, ...]:
    """``[N, T, H, W, in_channels]`` -> ``[N, T', H', W', feat_dim]`` (a tuple if several out_indices)."""
    x = self.conv1(x if self.dtype is None else x.astype(self.dtype))
    if self.with_pool1:
      # Padded with -inf, as PyTorch's MaxPool3d does; a temporal stride with a 1-frame window subsamples.
      x = spatial_max_pool(x[:, ::self.pool1_stride[0]], (3, 3), self.pool1_stride[1:], ((1, 1), (1, 1)))
    outs = []
    for i in range(self.num_stages):
      for block in getattr(self, f'layer{i + 1}'):
        x = call_recomputed(block, x) if self.with_cp else block(x)
      if i == 0 and self.with_pool2:
        x = nnx.max_pool(x, window_shape=(2, 1, 1), strides=(2, 1, 1), padding='VALID')
      if i in self.out_indices:
        outs.append(x)
    return outs[0] if len(outs) == 1 else tuple(outs)
