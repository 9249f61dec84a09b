"""ST-GCN Kinetics-skeleton JSON (OpenPose-18, spec §1.5) -> MMAction2-style 2D records.

One file per video: ``{"data": [{"frame_index": 1-based int, "skeleton": [{"pose": [x0, y0, ...] (36
values, normalised to [0, 1] by the frame width / height), "score": [18]}]}], "label": str,
"label_index": int}``.

Coordinates: with ``img_shape=(h, w)`` (default (256, 340), the frame size the Kinetics-skeleton release
was computed at) x is multiplied by w and y by h, as MMAction2 0.x ``LoadKineticsPose(source='openpose-18')``
does, giving pixel coordinates and ``img_shape`` like every MMAction2 2D record. With ``img_shape=None``
the normalised [0, 1] coordinates are kept and no ``img_shape`` is set.

Persons: like ST-GCN's feeder, at most ``num_person_in`` skeletons are read per frame (file order), then
per frame they are sorted by summed score (stable, so ties keep file order) and the first ``max_person``
kept; M = the largest number kept in any frame. Frames without skeletons stay all-zero. Unlike the feeder,
coordinates of zero-score joints are kept (``zero_unscored=True`` zeroes them as ST-GCN does), because some
converted datasets store valid coordinates with all scores 0.
"""

from __future__ import annotations

import json
import logging
import os
import pathlib
from collections.abc import Mapping, Sequence

import numpy as np

NUM_JOINTS = 18
KINETICS_IMG_SHAPE = (256, 340)


class KineticsJsonError(ValueError):
  """A malformed Kinetics-skeleton JSON file; the message names the file and the frame."""


def _resolve_label(data: Mapping, path: str, label: int | None,
                   label_map: Mapping[str, int] | Sequence[str] | None) -> int:
  if label is not None:
    return int(label)
  if label_map is not None:
    name = data.get('label')
    lookup = label_map if isinstance(label_map, Mapping) else {n: i for i, n in enumerate(label_map)}
    if name not in lookup:
      raise KineticsJsonError(f'{path}: label {name!r} is not in the label map')
    return int(lookup[name])
  if 'label_index' not in data:
    raise KineticsJsonError(f'{path}: no "label_index" (pass label= or label_map=)')
  return int(data['label_index'])


def load_kinetics_json(path: str | os.PathLike, *, label: int | None = None,
                       label_map: Mapping[str, int] | Sequence[str] | None = None, max_person: int = 2,
                       num_person_in: int = 5, img_shape: tuple[int, int] | None = KINETICS_IMG_SHAPE,
                       zero_unscored: bool = False) -> dict:
  """One video -> ``{frame_dir, label, total_frames, keypoint [M, T, 18, 2], keypoint_score [M, T, 18]}``.

  ``label`` overrides the file; else ``label_map`` (names or ``{name: index}``) maps ``"label"``; else
  ``"label_index"`` is used as stored.
  """
  path = os.fspath(path)
  try:
    with open(path) as f:
      data = json.load(f)
  except json.JSONDecodeError as e:
    raise KineticsJsonError(f'{path}: not valid JSON: {e}') from e
  if not isinstance(data, Mapping) or not isinstance(data.get('data'), list):
    raise KineticsJsonError(f'{path}: expected {{"data": [...], ...}} (st-gcn Kinetics-skeleton format)')
  frames = data['data']
  indices = []
  for i, frame in enumerate(frames):
    index = frame.get('frame_index') if isinstance(frame, Mapping) else None
    if not isinstance(index, int) or index < 1:
      raise KineticsJsonError(f'{path}: data[{i}]: frame_index must be an integer >= 1, got {index!r}')
    indices.append(index)
  if len(set(indices)) != len(indices):
    raise KineticsJsonError(f'{path}: duplicated frame_index values')
  total_frames = max(indices, default=0)
  # [T, P, V] buffers with P = most skeletons read in one frame.
  per_frame = max((min(len(f.get('skeleton', [])), num_person_in) for f in frames), default=0)
  if per_frame == 0:
    raise KineticsJsonError(f'{path}: no skeleton in any frame')
  keypoint = np.zeros((total_frames, per_frame, NUM_JOINTS, 2), np.float32)
  score = np.zeros((total_frames, per_frame, NUM_JOINTS), np.float32)
  for i, (frame, index) in enumerate(zip(frames, indices)):
    for m, skeleton in enumerate(frame.get('skeleton', [])[:num_person_in]):
      pose, conf = np.asarray(skeleton.get('pose'), np.float32), np.asarray(skeleton.get('score'), np.float32)
      if pose.shape != (2 * NUM_JOINTS,) or conf.shape != (NUM_JOINTS,):
        raise KineticsJsonError(f'{path}: data[{i}] (frame_index {index}) skeleton {m}: need 36 pose and 18 '
                                f'score values, got {pose.shape} and {conf.shape}')
      if not (np.all(np.isfinite(pose)) and np.all(np.isfinite(conf))):
        raise KineticsJsonError(f'{path}: data[{i}] (frame_index {index}) skeleton {m}: NaN/inf values')
      keypoint[index - 1, m] = pose.reshape(NUM_JOINTS, 2)
      score[index - 1, m] = conf
  if zero_unscored:
    keypoint[score == 0] = 0
  if not score.any():
    logging.warning('%s: every keypoint score is 0; coordinates are kept and persons keep file order', path)
  order = np.argsort(-score.sum(-1), axis=1, kind='stable')        # [T, P]
  keypoint = np.take_along_axis(keypoint, order[:, :, None, None], axis=1)
  score = np.take_along_axis(score, order[:, :, None], axis=1)
  num_person = min(max_person, per_frame)
  keypoint, score = keypoint[:, :num_person].transpose(1, 0, 2, 3), score[:, :num_person].transpose(1, 0, 2)
  record = dict(frame_dir=pathlib.Path(path).stem, label=_resolve_label(data, path, label, label_map),
                total_frames=total_frames)
  if img_shape is not None:
    h, w = img_shape
    keypoint = keypoint * np.array([w, h], np.float32)
    record['img_shape'] = record['original_shape'] = (int(h), int(w))
  record['keypoint'] = np.ascontiguousarray(keypoint)
  record['keypoint_score'] = np.ascontiguousarray(score)
  return record


def load_label_file(path: str | os.PathLike) -> dict[str, dict]:
  """Reads ``kinetics_{train,val}_label.json``: ``{video_id: {has_skeleton, label, label_index}}``."""
  with open(path) as f:
    return json.load(f)


def convert_kinetics_dir(json_dir: str | os.PathLike, label_file: str | os.PathLike | None = None,
                         **kwargs) -> list[dict]:
  """Every ``*.json`` of a folder (sorted); with a label file, videos without skeleton are skipped."""
  paths = sorted(pathlib.Path(json_dir).glob('*.json'))
  if not paths:
    raise FileNotFoundError(f'no .json files in {json_dir}')
  labels = load_label_file(label_file) if label_file else None
  records = []
  for path in paths:
    if labels is not None:
      if path.stem not in labels:
        raise KineticsJsonError(f'{path}: video {path.stem!r} is not in {label_file}')
      info = labels[path.stem]
      if not info.get('has_skeleton', True):
        logging.info('%s: has_skeleton is false in %s; skipped', path, label_file)
        continue
      kwargs = dict(kwargs, label=info['label_index'])
    records.append(load_kinetics_json(path, **kwargs))
  return records
