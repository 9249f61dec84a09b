"""Raw NTU RGB+D ``.skeleton`` files -> MMAction2 0.x seed records (spec §1.4, "mmaction2 0.x").

MMAction2 0.x ``tools/data/skeleton/gen_ntu_rgbd_raw.py`` made the data its 3D ST-GCN / 2s-AGCN checkpoints
were trained on: up to 4 Kinect bodies per frame by order of appearance, the 2 of highest "energy",
zero-padded to 300 frames, then 2s-AGCN's ``pre_normalization`` (loop-pad empty frames, subtract person 0's
spine-middle joint per frame, two axis-angle rotations fixed by person 0's first frame), cut back to the
original length.

``select_bodies`` and ``pre_normalization`` reproduce those steps (including how they treat empty persons and
frames); ``to_record`` gives MMAction2's dict (``keypoint`` float32 ``[2, T, 25, 3]``, always two persons);
``convert_ntu_dir`` a PySKL-layout ``{'split', 'annotations'}`` of a folder. Parsing is ``ntu_raw``'s.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Iterable, Sequence

import numpy as np

from skeljax.data import ntu_raw, ntu_splits

MAX_BODY_KINECT = 4   # body slots read per frame
MAX_BODY_TRUE = 2     # slots kept (always written, empty ones as zeros)
MAX_FRAME = 300       # the reference's buffer length
CENTER_JOINT = 1      # spine middle
Z_AXIS_JOINTS = (0, 1)  # spine base -> spine middle becomes +z
X_AXIS_JOINTS = (8, 4)  # x[8] - x[4] (left -> right shoulder) becomes +x
_TINY = 1e-6


def body_energy(slots: np.ndarray) -> np.ndarray:
  """``[B]`` energy of ``[B, F, V, 3]`` slots: sum over x, y, z of the std over non-empty frames' joints."""
  energy = np.zeros(len(slots))
  for b, body in enumerate(slots):
    # A frame counts when its signed coordinate sum is non-zero (the reference's emptiness test).
    frames = body[body.sum(-1).sum(-1) != 0]
    if len(frames):
      energy[b] = sum(frames[:, :, c].std() for c in range(3))
  return energy


def select_bodies(seq: ntu_raw.SkeletonSequence) -> np.ndarray:
  """``[2, F, 25, 3]`` float32: the two highest-energy of the first 4 body slots (slot = order in a frame)."""
  found = seq.by_slot()[:MAX_BODY_KINECT]
  slots = np.zeros((MAX_BODY_KINECT,) + found.shape[1:])
  slots[:len(found)] = found
  # Energy is ranked in float64 before the cast, as the reference does. Its 4-element argsort was an
  # insertion sort, i.e. stable; reversed, ties (empty slots) come out highest slot first.
  order = np.argsort(body_energy(slots), kind='stable')[::-1][:MAX_BODY_TRUE]
  return slots[order].astype(np.float32)


def angle_between(v: np.ndarray, target: Sequence[float]) -> float:
  """Angle (radians) between ``v`` and ``target``; 0 when either is (nearly) zero, so never NaN."""
  v, target = np.asarray(v), np.asarray(target)
  if np.abs(v).sum() < _TINY or np.abs(target).sum() < _TINY:
    return 0.0
  # Unit vectors in their own dtypes (float32 for the bone), dot in float64: the reference's arithmetic.
  cos = np.dot(v / np.linalg.norm(v), target / np.linalg.norm(target))
  return float(np.arccos(np.clip(cos, -1.0, 1.0)))


def rotation_matrix(axis: Sequence[float], theta: float) -> np.ndarray:
  """``[3, 3]`` float64 counter-clockwise rotation by ``theta`` about ``axis``; identity if either is ~0."""
  axis = np.asarray(axis, dtype=np.float64)
  if np.abs(axis).sum() < _TINY or abs(theta) < _TINY:
    return np.eye(3)
  # The unit quaternion (w, x, y, z) = (cos θ/2, sin θ/2 · axis) as a matrix; written term by term in the
  # reference's order so the float64 entries match it bit for bit.
  axis = axis / math.sqrt(np.dot(axis, axis))
  w = math.cos(theta / 2.0)
  x, y, z = axis * math.sin(theta / 2.0)
  ww, xx, yy, zz = w * w, x * x, y * y, z * z
  return np.array([[ww + xx - yy - zz, 2 * (x * y - w * z), 2 * (x * z + w * y)],
                   [2 * (x * y + w * z), ww + yy - xx - zz, 2 * (y * z - w * x)],
                   [2 * (x * z - w * y), 2 * (y * z + w * x), ww + zz - xx - yy]])


def _pad_null_frames(person: np.ndarray) -> None:
  """In place on ``[T, V, C]``: move non-empty frames to the front if frame 0 is empty; loop-fill the tail."""
  if person.sum() == 0:
    return
  if person[0].sum() == 0:
    valid = person[person.sum(-1).sum(-1) != 0]
    person[:] = 0
    person[:len(valid)] = valid
  frame_sums = person.reshape(len(person), -1).sum(-1)
  for f in np.flatnonzero(frame_sums == 0):
    # Only the trailing run of empty frames is filled; empty frames followed by data stay empty.
    if person[f:].sum() == 0:
      reps = math.ceil((len(person) - f) / f)
      person[f:] = np.concatenate([person[:f]] * reps)[:len(person) - f]
      return


def _pad_null_frames_all(sample: np.ndarray) -> None:
  for person in sample:
    _pad_null_frames(person)


def _subtract_center(sample: np.ndarray) -> None:
  """In place on ``[M, T, V, C]``: subtract person 0's spine middle per frame, at non-zero joints only."""
  center = sample[0, :, CENTER_JOINT:CENTER_JOINT + 1].copy()
  for p, person in enumerate(sample):
    if person.sum() == 0:
      continue
    present = (person.sum(-1) != 0)[..., None]
    sample[p] = (person - center) * present


def _align_bone(sample: np.ndarray, joints: tuple[int, int], target: Sequence[float]) -> None:
  """In place on ``[M, T, V, C]``: rotate so that person 0's frame-0 ``x[j1] - x[j0]`` points along target."""
  bone = sample[0, 0, joints[1]] - sample[0, 0, joints[0]]
  target = np.asarray(target)
  matrix = rotation_matrix(np.cross(bone.astype(np.float64), target), angle_between(bone, target))
  for person in sample:
    if person.sum() == 0:
      continue
    # Empty frames are left as they are (their zeros would stay zero anyway, up to the sign of 0).
    keep = person.reshape(len(person), -1).sum(-1) != 0
    person[keep] = (person[keep].astype(np.float64) @ matrix.T).astype(person.dtype)


def pre_normalization(data: np.ndarray, zaxis: tuple[int, int] = Z_AXIS_JOINTS,
                      xaxis: tuple[int, int] = X_AXIS_JOINTS) -> np.ndarray:
  """2s-AGCN ``pre_normalization`` of ``[N, M, T, V, C]`` or one ``[M, T, V, C]`` sample; returns a copy.

  Per sample: (a) each non-empty person whose frame 0 is empty has its non-empty frames moved to the front,
  then its trailing empty frames filled by looping the frames before them; (b) person 0's joint 1 is
  subtracted per frame from every non-zero joint of every person; (c) all non-empty frames are rotated so that
  person 0's frame-0 ``x[zaxis[1]] - x[zaxis[0]]`` is along +z, then (d) ``x[xaxis[0]] - x[xaxis[1]]`` along
  +x. (d) undoes (c)'s alignment in general: only the last rotation's bone ends exactly on its axis.
  """
  out = np.array(data, copy=True)
  samples = out[None] if out.ndim == 4 else out
  if samples.ndim != 5:
    raise ValueError(f'pre_normalization takes [N, M, T, V, C] or [M, T, V, C], got shape {out.shape}')
  stages = (_pad_null_frames_all,
            _subtract_center,
            lambda s: _align_bone(s, (zaxis[0], zaxis[1]), (0, 0, 1)),
            # The reference's bone for +x runs from xaxis[1] to xaxis[0] (left to right shoulder).
            lambda s: _align_bone(s, (xaxis[1], xaxis[0]), (1, 0, 0)))
  for sample in samples:
    for stage in stages:
      # Re-tested before every stage, as the reference does; an empty sample stays zeros.
      if sample.sum() != 0:
        stage(sample)
  return out


def normalize_bodies(keypoint: np.ndarray, max_frame: int = MAX_FRAME) -> np.ndarray:
  """``pre_normalization`` of one ``[M, F, V, C]`` sample zero-padded to ``max_frame``, cut back to F."""
  num_frames = keypoint.shape[1]
  # The reference buffer is 300 frames (every NTU file fits); every step works per frame or from frame 0,
  # so a longer file only needs a longer buffer to get what the reference would give for its first F frames.
  buffer = np.zeros((keypoint.shape[0], max(max_frame, num_frames)) + keypoint.shape[2:], keypoint.dtype)
  buffer[:, :num_frames] = keypoint
  return np.ascontiguousarray(pre_normalization(buffer)[:, :num_frames])


def to_record(seq: ntu_raw.SkeletonSequence) -> dict:
  """MMAction2 0.x record: frame_dir, label, keypoint ``[2, T, 25, 3]`` float32, total_frames, img_shape."""
  try:
    label = ntu_splits.parse_name(seq.name).label
  except ValueError as e:
    raise ntu_raw.NtuFormatError(f'{seq.path}: {e}') from e
  keypoint = normalize_bodies(select_bodies(seq))
  return dict(frame_dir=seq.name, label=label, keypoint=keypoint, total_frames=keypoint.shape[1],
              img_shape=ntu_raw.NTU_IMG_SHAPE, original_shape=ntu_raw.NTU_IMG_SHAPE)


def convert_file(path: str | os.PathLike) -> dict:
  """``to_record`` of one ``.skeleton`` file."""
  return to_record(ntu_raw.parse_skeleton_file(path))


def convert_ntu_dir(skeleton_dir: str | os.PathLike, dataset: str = 'ntu60', *, num_workers: int = 1,
                    names: Iterable[str] | None = None) -> dict:
  """PySKL-layout ``{'split': {...}, 'annotations': [...]}`` of 0.x records for a raw skeleton folder."""
  samples = ntu_raw.select_samples(skeleton_dir, dataset, names)
  annotations = ntu_raw.map_files(convert_file, [str(p) for p in samples.values()], num_workers)
  logging.info('converted %d %s samples (MMAction2 0.x style) from %s', len(annotations), dataset,
               skeleton_dir)
  return dict(split=ntu_splits.make_splits(samples, dataset), annotations=annotations)
