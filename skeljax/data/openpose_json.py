"""OpenPose per-frame JSON output -> MMAction2-style 2D records; the aggregorio OpenPose-18 clip dataset.

OpenPose writes one ``<video>_<frame:012d>_keypoints.json`` per frame: ``{"people": [{"pose_keypoints_2d":
[x0, y0, c0, x1, ...]}, ...]}`` (``pose_keypoints`` before OpenPose 1.2), pixel coordinates, V = 18
(BODY_18 / COCO-18, same order as the ``openpose`` graph layout) or 25 (BODY_25). OpenPose does not track
people across frames: persons are ranked per frame by summed confidence and the best ``max_person`` kept,
as in the ST-GCN Kinetics preprocessing. BODY_25 can be reduced to the 18-joint layout (``to_openpose18``).
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from collections.abc import Sequence

import numpy as np

# BODY_25 joints that form the OpenPose-18 layout (drops MidHip 8 and the six foot joints 19-24).
BODY25_TO_OPENPOSE18 = (0, 1, 2, 3, 4, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18)
# OpenPose-18 joint of each COCO-17 joint (nose, eyes, ears, shoulders, elbows, wrists, hips, knees, ankles,
# left before right); OpenPose's neck (1) has no COCO counterpart.
OPENPOSE18_TO_COCO17 = (0, 15, 14, 17, 16, 5, 2, 6, 3, 7, 4, 11, 8, 12, 9, 13, 10)
_FRAME_FILE = re.compile(r'(.+)_(\d+)_keypoints\.json$')
_POSE_KEYS = ('pose_keypoints_2d', 'pose_keypoints')


class OpenPoseJsonError(ValueError):
  """A malformed OpenPose file or clip; the message names the file."""


def load_openpose_frame(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
  """One frame file -> ``keypoint [P, V, 2]`` (pixels), ``score [P, V]`` (float32; P may be 0)."""
  path = os.fspath(path)
  try:
    with open(path) as f:
      data = json.load(f)
  except json.JSONDecodeError as e:
    raise OpenPoseJsonError(f'{path}: not valid JSON: {e}') from e
  people = data.get('people') if isinstance(data, dict) else None
  if not isinstance(people, list):
    raise OpenPoseJsonError(f'{path}: no "people" list (not an OpenPose keypoints file)')
  poses = []
  for p, person in enumerate(people):
    key = next((k for k in _POSE_KEYS if k in person), None)
    if key is None:
      raise OpenPoseJsonError(f'{path}: people[{p}] has neither of {_POSE_KEYS}')
    values = np.asarray(person[key], np.float32)
    if values.ndim != 1 or values.size not in (18 * 3, 25 * 3):
      raise OpenPoseJsonError(f'{path}: people[{p}].{key} has {values.size} values; expected 54 (18 joints) '
                              'or 75 (BODY_25)')
    if not np.all(np.isfinite(values)):
      raise OpenPoseJsonError(f'{path}: people[{p}].{key} has NaN/inf values')
    poses.append(values.reshape(-1, 3))
  if len({p.shape for p in poses}) > 1:
    raise OpenPoseJsonError(f'{path}: people have different joint counts')
  if not poses:
    return np.zeros((0, 0, 2), np.float32), np.zeros((0, 0), np.float32)
  stacked = np.stack(poses)
  return stacked[..., :2], stacked[..., 2]


def clip_names(folder: str | os.PathLike) -> list[str]:
  """Sorted clip names (``<clip>`` of ``<clip>_<n>_keypoints.json``) present in a folder."""
  return sorted({_FRAME_FILE.match(p.name).group(1) for p in pathlib.Path(folder).glob('*_keypoints.json')
                 if _FRAME_FILE.match(p.name)})


def frame_files(folder: str | os.PathLike, clip: str | None = None) -> list[pathlib.Path]:
  """The ``<clip>_<n>_keypoints.json`` files of one clip ordered by n; gaps in n are an error.

  ``clip=None`` requires the folder to hold a single clip.
  """
  if clip is None:
    clips = clip_names(folder)
    if len(clips) != 1:
      raise OpenPoseJsonError(f'{folder}: holds {len(clips)} clips {clips[:5]}; name the one to read')
    clip = clips[0]
  numbered = []
  for path in pathlib.Path(folder).glob('*_keypoints.json'):
    match = _FRAME_FILE.match(path.name)
    if match and match.group(1) == clip:
      numbered.append((int(match.group(2)), path))
  numbered.sort()
  if not numbered:
    raise FileNotFoundError(f'no {clip}_<frame>_keypoints.json files in {folder}')
  numbers = [n for n, _ in numbered]
  expected = list(range(numbers[0], numbers[0] + len(numbers)))
  if numbers != expected:
    gap = next(e for n, e in zip(numbers, expected) if n != e)
    raise OpenPoseJsonError(f'{folder}: frame {gap} of clip {clip!r} is missing or duplicated '
                            f'(frames {numbers[0]}..{numbers[-1]}, {len(numbers)} files)')
  return [p for _, p in numbered]


def load_openpose_clip(paths: Sequence[str | os.PathLike], *, label: int, frame_dir: str,
                       max_person: int = 2, to_openpose18: bool = False,
                       img_shape: tuple[int, int] | None = None) -> dict:
  """Frame files (in order) -> ``{frame_dir, label, total_frames, keypoint [M, T, V, 2], keypoint_score}``.

  Frames without people stay all-zero. ``img_shape=(h, w)`` is recorded when given (OpenPose does not
  store the image size).
  """
  if not paths:
    raise OpenPoseJsonError(f'{frame_dir}: no frame files')
  frames = [load_openpose_frame(p) for p in paths]
  joint_counts = {kp.shape[1] for kp, _ in frames if kp.shape[0]}
  if not joint_counts:
    raise OpenPoseJsonError(f'{frame_dir}: no person in any of {len(paths)} frames ({paths[0]} ...)')
  if len(joint_counts) > 1:
    raise OpenPoseJsonError(f'{frame_dir}: frames mix joint counts {sorted(joint_counts)}')
  num_joints = joint_counts.pop()
  num_person = min(max_person, max(kp.shape[0] for kp, _ in frames))
  keypoint = np.zeros((num_person, len(frames), num_joints, 2), np.float32)
  score = np.zeros((num_person, len(frames), num_joints), np.float32)
  for t, (kp, sc) in enumerate(frames):
    order = np.argsort(-sc.sum(-1), kind='stable')[:num_person]
    keypoint[:len(order), t], score[:len(order), t] = kp[order], sc[order]
  if to_openpose18:
    if num_joints != 25:
      raise OpenPoseJsonError(f'{frame_dir}: to_openpose18 needs BODY_25 input, got {num_joints} joints')
    keypoint, score = keypoint[:, :, BODY25_TO_OPENPOSE18], score[:, :, BODY25_TO_OPENPOSE18]
  record = dict(frame_dir=frame_dir, label=int(label), total_frames=len(frames),
                keypoint=np.ascontiguousarray(keypoint), keypoint_score=np.ascontiguousarray(score))
  if img_shape is not None:
    record['img_shape'] = record['original_shape'] = tuple(int(v) for v in img_shape)
  return record


def openpose18_to_coco17(record: dict) -> dict:
  """A copy of an OpenPose-18 record (``keypoint [M, T, 18, C]``) in the COCO-17 joint order (neck dropped),
  so that models trained on COCO-17 keypoints (HRNet 2D ST-GCN, PoseC3D) can read Kinetics-skeleton clips."""
  keypoint = np.asarray(record['keypoint'])
  if keypoint.ndim != 4 or keypoint.shape[2] != 18:
    raise OpenPoseJsonError(f'{record.get("frame_dir", "?")}: openpose18_to_coco17 needs keypoint [M, T, 18, C], '
                            f'got {keypoint.shape}')
  out = dict(record, keypoint=np.ascontiguousarray(keypoint[:, :, OPENPOSE18_TO_COCO17]))
  if 'keypoint_score' in record:
    out['keypoint_score'] = np.ascontiguousarray(np.asarray(record['keypoint_score'])[:, :, OPENPOSE18_TO_COCO17])
  return out


# ----- the aggregorio OpenPose-18 dataset (MatteoTurla/STGCN-action-recognition) -----

AGGREGORIO_GROUPS = {'basic': (1, 4), 'alerting': (5, 12), 'daily_life': (13, 19)}  # A01-A19, inclusive
_AGGREGORIO_SPLITS = ('train', 'test')


def load_aggregorio_clip(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
  """One ``(3, T, 18, 1)`` float64 clip -> ``keypoint [1, T, 18, 2]``, ``score [1, T, 18]`` (float32)."""
  array = np.load(path, allow_pickle=False)
  if array.ndim != 4 or array.shape[0] != 3 or array.shape[2] != 18 or array.shape[1] < 1:
    raise OpenPoseJsonError(f'{path}: expected a (3, T, 18, M) array (x, y, confidence), got {array.shape}')
  if not np.all(np.isfinite(array)):
    raise OpenPoseJsonError(f'{path}: NaN/inf values')
  array = array.astype(np.float32).transpose(3, 1, 2, 0)   # [M, T, V, 3]
  return np.ascontiguousarray(array[..., :2]), np.ascontiguousarray(array[..., 2])


def load_aggregorio_dataset(root: str | os.PathLike, group: str | None = None) -> dict:
  """The 1,193-clip dataset as ``{'split': {'train', 'test'}, 'annotations', 'classes'}``.

  ``root`` holds ``aggregorio_skeletons_numpy/<group>/<split>/Axx/<clip>.npy`` and ``label_name.txt``.
  ``group=None`` keeps all 19 classes (label = xx - 1); a group name keeps its classes, numbered from 0.
  Coordinates are the stored normalised ones (about [-0.5, 0.5]), so records have no ``img_shape``;
  ``frame_dir`` is ``Axx/<clip>`` (clip names repeat across classes).
  """
  root = pathlib.Path(root)
  classes = (root / 'label_name.txt').read_text().splitlines()
  if len(classes) != 19:
    raise OpenPoseJsonError(f'{root / "label_name.txt"}: expected 19 class names, got {len(classes)}')
  if group is not None and group not in AGGREGORIO_GROUPS:
    raise ValueError(f'group must be one of {sorted(AGGREGORIO_GROUPS)} or None, got {group!r}')
  groups = [group] if group else list(AGGREGORIO_GROUPS)
  first = AGGREGORIO_GROUPS[group][0] if group else 1
  split, records = {s: [] for s in _AGGREGORIO_SPLITS}, []
  for name in groups:
    low, high = AGGREGORIO_GROUPS[name]
    for split_name in _AGGREGORIO_SPLITS:
      folder = root / 'aggregorio_skeletons_numpy' / name / split_name
      if not folder.is_dir():
        raise FileNotFoundError(f'{folder} is missing')
      for path in sorted(folder.glob('A*/*.npy')):
        action = int(path.parent.name[1:])
        if not low <= action <= high:
          raise OpenPoseJsonError(f'{path}: class A{action:02d} does not belong to group {name}')
        keypoint, score = load_aggregorio_clip(path)
        frame_dir = f'{path.parent.name}/{path.stem}'
        records.append(dict(frame_dir=frame_dir, label=action - first, total_frames=keypoint.shape[1],
                            keypoint=keypoint, keypoint_score=score))
        split[split_name].append(frame_dir)
  names = [r['frame_dir'] for r in records]
  if len(set(names)) != len(names):
    raise OpenPoseJsonError(f'{root}: clip names repeat within a class')
  low, high = AGGREGORIO_GROUPS[group] if group else (1, 19)
  return dict(split=split, annotations=records, classes=classes[low - 1:high])
