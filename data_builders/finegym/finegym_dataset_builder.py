"""FineGYM (Gym99) HRNet 2D skeletons from MMAction2 / PySKL pickles (config ``2d``: train/val)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = f"""
Put one of these in the manual directory (`--manual_dir`), unchanged:
  gym_hrnet.pkl   {common.PYSKL_DATA_URL}/gym/gym_hrnet.pkl   (PySKL)
  gym_2d.pkl      {common.MMACTION2_DATA_URL}/gym_2d.pkl   (MMAction2 1.x)
  or both 0.x files gym_train.pkl and gym_val.pkl from https://download.openmmlab.com/mmaction/posec3d/
"""


class Builder(common.SkeletonBuilder):
  """FineGYM Gym99: 99 gymnastics element classes, 2D poses from ground-truth athlete boxes."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = [common.coco_2d_config(
      '2d', num_classes=99, description='Gym99, HRNet COCO-17 2D skeletons',
      splits={split: (('gym_hrnet.pkl', split), ('gym_2d.pkl', split), (f'gym_{split}.pkl', None))
              for split in ('train', 'val')})]
