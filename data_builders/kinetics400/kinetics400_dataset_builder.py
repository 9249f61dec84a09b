"""Kinetics-400 HRNet 2D skeletons (MMAction2 1.x / PySKL): table-of-contents pickle + per-video kpfiles.

The pickle lists the videos; each video's skeletons live in ``kpfiles/<frame_dir>.pkl`` as one row per
detection (``keypoint [N, 17, 3]``, ``frame_inds``, ``box_score``). The builder applies what MMAction2 does at
load time — keep detections with ``box_score >= box_thr`` (``PoseDataset(box_thr=0.5)``), then
``DecompressPose(squeeze=True, max_person=10)`` — and stores the dense ``[M, T, 17, 2]`` result.
"""

from __future__ import annotations

import dataclasses
import logging

import numpy as np
import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = f"""
Put in the manual directory (`--manual_dir`):
  k400_2d.pkl (MMAction2 1.x, {common.MMACTION2_DATA_URL}/k400_2d.pkl) or k400_hrnet.pkl (PySKL), and
  kpfiles/  the per-video skeleton files (`kpfiles/<frame_dir>.pkl`), from the same release
  (PySKL: https://download.openmmlab.com/mmaction/pyskl/data/k400/k400_kpfiles_2d.zip, unzip into kpfiles/).
"""


@dataclasses.dataclass
class KineticsConfig(common.SkeletonConfig):
  """Adds MMAction2's load-time filtering parameters."""
  box_thr: float = 0.5
  max_person: int = 10


class Builder(common.SkeletonBuilder):
  """Kinetics-400 skeletons (400 classes, ~240k train / ~20k val videos)."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = [KineticsConfig(
      name='2d', version='1.0.0', description='Kinetics-400, HRNet COCO-17 2D skeletons, box_thr 0.5',
      num_joints=17, num_channels=2, num_classes=400, with_score=True, layout='coco',
      splits=tuple(common.SplitSource(s, (('k400_2d.pkl', s), ('k400_hrnet.pkl', s))) for s in ('train', 'val')))]

  def _records(self, dl_manager, split):
    from skeljax.data import annotations, decompress  # pylint: disable=g-import-not-at-top
    cfg = self.builder_config
    path, ann_split = common.find_file(dl_manager.manual_dir, split.candidates, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    kpfiles = dl_manager.manual_dir / 'kpfiles'
    if not kpfiles.is_dir():
      raise FileNotFoundError(f'{kpfiles} does not exist; the skeletons of {path} live there.\n{_INSTRUCTIONS}')
    toc = annotations.load_annotations(path, split=ann_split, data_prefix=kpfiles, num_joints=cfg.num_joints,
                                       num_classes=cfg.num_classes)
    source = f'{path} (split {ann_split!r})'

    def records():
      empty = []
      for i in range(len(toc)):
        record = dict(toc[i])
        if 'box_score' in record:
          record['anno_inds'] = np.asarray(record['box_score']) >= cfg.box_thr
        if not np.any(record.get('anno_inds', True)) or len(record.get('frame_inds', ())) == 0:
          empty.append(record['frame_dir'])
          continue
        record = decompress.decompress_pose(record, squeeze=True, max_person=cfg.max_person)
        yield {k: record[k] for k in ('frame_dir', 'label', 'keypoint', 'keypoint_score', 'total_frames',
                                      'img_shape') if k in record}
      if empty:
        # MMAction2 would fail on these at training time; we leave them out and say which.
        logging.warning('%s: %d videos have no detection with box_score >= %s and were not written: %s',
                        source, len(empty), cfg.box_thr, empty[:20])

    return source, records()
