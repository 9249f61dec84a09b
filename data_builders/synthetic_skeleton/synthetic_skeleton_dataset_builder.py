"""Procedurally generated skeleton actions (no download): ``ntu25_3d`` and ``coco17_2d`` configs.

13 actions (``skeljax.data.synthetic.ACTIONS``), 1–2 persons, varied body size, speed, viewpoint, noise and
dropped joints/frames; every clip is a pure function of (seed, split, index). The defaults (624 train / 208 val /
208 test clips of 50–120 frames) build in seconds and are enough for ST-GCN to learn the classes.
"""

from __future__ import annotations

import dataclasses
import functools

import tensorflow_datasets as tfds

from data_builders import common
from skeljax.data import synthetic


@dataclasses.dataclass
class SyntheticConfig(common.SkeletonConfig):
  """Generation settings; the split sizes and seed are part of the config (override to make a new one)."""
  edition: str = 'ntu25_3d'
  seed: int = 0
  num_train: int = 624
  num_val: int = 208
  num_test: int = 208
  min_frames: int = 50
  max_frames: int = 120


def _config(edition: str) -> SyntheticConfig:
  three_d = edition == 'ntu25_3d'
  return SyntheticConfig(
      name=edition, version='1.0.0', edition=edition,
      description=('NTU-25 joints, camera metres' if three_d else 'COCO-17 joints, pixels (1080x1920), scores'),
      num_joints=25 if three_d else 17, num_channels=3 if three_d else 2, num_classes=len(synthetic.ACTIONS),
      with_score=not three_d, layout='nturgb+d' if three_d else 'coco')


def _generate_one(index: int, *, split, cfg: SyntheticConfig):
  """Beam worker: one clip, keyed by frame_dir (the same clip ``generate_split`` yields)."""
  record, = synthetic.generate_split(split, 1, seed=cfg.seed, edition=cfg.edition, min_frames=cfg.min_frames,
                                     max_frames=cfg.max_frames, start=index)
  return common.keyed_example(record, num_joints=cfg.num_joints, num_channels=cfg.num_channels,
                              with_score=cfg.with_score, source=f'synthetic_skeleton/{cfg.name}')


class Builder(common.SkeletonBuilder):
  """Synthetic skeleton actions for demos, smoke tests and CI."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release: 13 procedural actions, ntu25_3d and coco17_2d editions.'}
  BUILDER_CONFIGS = [_config('ntu25_3d'), _config('coco17_2d')]

  def _class_names(self):
    return synthetic.ACTIONS

  def _split_generators(self, dl_manager):
    cfg = self.builder_config
    sizes = {'train': cfg.num_train, 'val': cfg.num_val, 'test': cfg.num_test}
    return {split: self._generate_examples(split=split, num_examples=n) for split, n in sizes.items() if n > 0}

  def _generate_examples(self, split: str, num_examples: int):
    cfg = self.builder_config
    source = f'synthetic_skeleton/{cfg.name}'
    if self._use_beam:
      beam = common.beam_module()
      fn = functools.partial(_generate_one, split=split, cfg=cfg)
      return beam.Create(list(range(num_examples))) | beam.Map(fn)
    records = synthetic.generate_split(split, num_examples, seed=cfg.seed, edition=cfg.edition,
                                       min_frames=cfg.min_frames, max_frames=cfg.max_frames)
    return (common.keyed_example(r, num_joints=cfg.num_joints, num_channels=cfg.num_channels,
                                 with_score=cfg.with_score, source=source) for r in records)
