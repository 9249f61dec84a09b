"""PoseC3D recognizer (MMAction2 ``Recognizer3D`` + ``ResNet3dSlowOnly`` + ``I3DHead``) and its checkpoint map."""

from __future__ import annotations

from collections.abc import Mapping

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx

from skeljax.checkpoint.mmaction import KeyMap, load_state_dict_into
from skeljax.models.i3d_head import I3DHead
from skeljax.models.slowonly import ResNet3dSlowOnly

# MMAction2 0.x, 1.x and PySKL name PoseC3D's tensors identically (spec 10.5).
EDITIONS = ('1.x', '0.x', 'pyskl')


class PoseC3DRecognizer(nnx.Module):
  """Heatmap volumes ``[N, clips, T, H, W, K]`` -> raw class scores ``[N, clips, num_classes]``.

  ``backbone`` holds ``ResNet3dSlowOnly`` keyword arguments (``None``: the PoseC3D keypoint config,
  ``stage_blocks=(4, 6, 3)``). ``dtype`` forces the backbone's compute dtype; ``None`` follows the input
  and parameters. Parameters stay float32; the head computes in its parameters' dtype; scores are float32.
  Clips are folded into the batch, so each clip is classified on its own (``Recognizer3D``).
  """

  def __init__(self, *, num_classes: int, backbone: Mapping | None = None, dropout: float = 0.5,
               spatial_type: str | None = 'avg', init_std: float = 0.01, dtype: str | jnp.dtype | None = None,
               rngs: nnx.Rngs):
    backbone_kwargs = dict(backbone or {})
    backbone_kwargs.setdefault('dtype', dtype)
    self.backbone = ResNet3dSlowOnly(**backbone_kwargs, rngs=rngs)
    if len(self.backbone.out_indices) != 1:
      raise ValueError(f'PoseC3DRecognizer needs one backbone output, got out_indices '
                       f'{self.backbone.out_indices}')
    self.cls_head = I3DHead(num_classes, self.backbone.feat_dim, spatial_type=spatial_type,
                            dropout_ratio=dropout, init_std=init_std, rngs=rngs)

  def features(self, x: jax.Array) -> jax.Array:
    """``[N, clips, T, H, W, K]`` -> pooled backbone features ``[N, clips, feat_dim]`` (float32)."""
    n, clips = x.shape[:2]
    pooled = self.cls_head.pool(self.backbone(x.reshape((n * clips,) + x.shape[2:])))
    return pooled.reshape(n, clips, -1)

  def classify_features(self, features: jax.Array) -> jax.Array:
    """Pooled ``[..., feat_dim]`` -> ``[..., num_classes]`` through the head's dropout and ``fc_cls``."""
    lead = features.shape[:-1]
    return self.cls_head.classify(features.reshape(-1, features.shape[-1])).reshape(lead + (-1,))

  def __call__(self, x: jax.Array) -> jax.Array:
    """``[N, clips, T, H, W, K]`` -> ``[N, clips, num_classes]``."""
    if x.ndim != 6:
      raise ValueError(f'PoseC3D expects [N, clips, T, H, W, K] input, got shape {x.shape}')
    return self.classify_features(self.features(x)).astype(jnp.float32)


def _conv_module(key_map: KeyMap, prefix: str, path: tuple) -> None:
  key_map.add_conv(f'{prefix}.conv', path + ('conv',), bias=False)
  key_map.add_batchnorm(f'{prefix}.bn', path + ('bn',))


def mmaction_key_map(model: PoseC3DRecognizer, edition: str = '1.x') -> KeyMap:
  """MMAction2 / PySKL state-dict keys (the same in every edition) -> ``model`` variables."""
  if edition not in EDITIONS:
    raise ValueError(f'edition must be one of {EDITIONS}, got {edition!r}')
  key_map = KeyMap()
  backbone = model.backbone
  _conv_module(key_map, 'backbone.conv1', ('backbone', 'conv1'))
  for i in range(backbone.num_stages):
    name = f'layer{i + 1}'
    for b, block in enumerate(getattr(backbone, name)):
      prefix, path = f'backbone.{name}.{b}', ('backbone', name, b)
      for conv in ('conv1', 'conv2', 'conv3'):
        _conv_module(key_map, f'{prefix}.{conv}', path + (conv,))
      if block.downsample is not None:
        _conv_module(key_map, f'{prefix}.downsample', path + ('downsample',))
  key_map.add_linear('cls_head.fc_cls', ('cls_head', 'fc_cls'))
  return key_map


def import_mmaction_posec3d(model: PoseC3DRecognizer, state_dict: dict[str, np.ndarray], edition: str = '1.x',
                            source: str = 'checkpoint') -> None:
  """Loads an MMAction2/PySKL PoseC3D ``state_dict`` into ``model`` in place.

  Raises ``CheckpointMismatchError`` listing every unknown, missing or mis-shaped key; ``source`` (e.g. the
  file name) prefixes the message.
  """
  load_state_dict_into(model, state_dict, mmaction_key_map(model, edition), source=source)
