"""HMDB51 HRNet 2D skeletons from MMAction2 / PySKL pickles (configs split1..split3: train/test)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = f"""
Put one of these in the manual directory (`--manual_dir`), unchanged:
  hmdb51_hrnet.pkl   {common.PYSKL_DATA_URL}/hmdb51/hmdb51_hrnet.pkl   (PySKL)
  hmdb51_2d.pkl      {common.MMACTION2_DATA_URL}/hmdb51_2d.pkl   (MMAction2 1.x)
  hmdb51.pkl         https://download.openmmlab.com/mmaction/posec3d/hmdb51.pkl   (MMAction2 0.x)
"""


def _config(k: int) -> common.SkeletonConfig:
  files = ('hmdb51_hrnet.pkl', 'hmdb51_2d.pkl', 'hmdb51.pkl')
  return common.coco_2d_config(
      f'split{k}', num_classes=51, description=f'HMDB51 official split {k}, HRNet COCO-17 2D skeletons',
      splits={'train': tuple((f, f'train{k}') for f in files), 'test': tuple((f, f'test{k}') for f in files)})


class Builder(common.SkeletonBuilder):
  """HMDB51 (51 classes), three official train/test splits."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = [_config(k) for k in (1, 2, 3)]
