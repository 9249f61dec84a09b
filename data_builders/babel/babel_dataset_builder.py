"""BABEL action labels on AMASS motion, re-targeted to NTU-25 joints (MMAction2 0.x; configs babel60/babel120)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = """
Put the MMAction2 0.x BABEL pickles in the manual directory (`--manual_dir`):
  babel60_train.pkl, babel60_val.pkl (config babel60) and/or babel120_train.pkl, babel120_val.pkl (babel120).
They are made by MMAction2 0.x `tools/data/skeleton/babel2mma2.py` from the BABEL release files
`train_ntu_sk_{60,120}.npy`, `train_label_{60,120}.pkl` (and the val equivalents),
https://babel.is.tue.mpg.de/ (registration required).
"""


def _config(num_classes: int) -> common.SkeletonConfig:
  name = f'babel{num_classes}'
  return common.SkeletonConfig(
      name=name, version='1.0.0', description=f'BABEL-{num_classes}, NTU-25 3D joints, 150 frames, 1 person',
      num_joints=25, num_channels=3, num_classes=num_classes, with_score=False, layout='nturgb+d',
      splits=tuple(common.SplitSource(split, ((f'{name}_{split}.pkl', None),)) for split in ('train', 'val')))


class Builder(common.SkeletonBuilder):
  """BABEL-60 / BABEL-120 (long-tailed; MMAction2 0.x trains them with focal-loss variants)."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = [_config(60), _config(120)]
