"""Kinetics-style compressed poses -> dense ``[M, T, V, 2]`` (MMAction2 1.x ``DecompressPose``, spec §1.1).

A compressed record stores one row per detected skeleton: ``keypoint [N, V, 3]`` (x, y, score) and the
frame each row belongs to, ``frame_inds [N]`` (non-decreasing). ``anno_inds`` (a boolean mask or index
array, set by ``PoseDataset``'s ``box_thr`` filtering) selects the rows to keep.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from skeljax.data.annotations import AnnotationError


def decompress_pose(record: Mapping, squeeze: bool = True, max_person: int = 10) -> dict:
  """Dense ``keypoint [M, T, V, 2]`` + ``keypoint_score [M, T, V]`` (float32) from a compressed record.

  Same semantics as MMAction2's ``DecompressPose``: with ``squeeze`` frames without skeletons are removed
  (T = number of distinct frames); M = the largest number of skeletons in one frame; persons fill slots in
  storage order; if M > ``max_person``, each frame's persons are sorted by summed keypoint score and
  truncated, and ``num_person`` is set. Values pass through float16, as in MMAction2.
  """
  rid = record.get('frame_dir', record.get('filename', '<record without frame_dir>'))
  for key in ('total_frames', 'frame_inds', 'keypoint'):
    if key not in record:
      raise AnnotationError(f'record {rid!r}: DecompressPose needs key {key!r}')
  results = dict(record)
  frame_inds = np.asarray(results.pop('frame_inds'))
  keypoint = np.asarray(results['keypoint'])
  if keypoint.ndim != 3 or keypoint.shape[-1] != 3:
    raise AnnotationError(f'record {rid!r}: compressed keypoint must be [N, V, 3], got {keypoint.shape}')
  if keypoint.shape[0] != frame_inds.shape[0]:
    raise AnnotationError(f'record {rid!r}: {keypoint.shape[0]} skeletons but {frame_inds.shape[0]} frame_inds')
  if 'anno_inds' in results:
    anno_inds = np.asarray(results['anno_inds'])
    frame_inds, keypoint = frame_inds[anno_inds], keypoint[anno_inds]
  if frame_inds.size == 0:
    raise AnnotationError(f'record {rid!r}: no skeleton left to decompress (all filtered out or none stored)')
  if np.any(np.diff(frame_inds) < 0):
    raise AnnotationError(f'record {rid!r}: frame_inds must be non-decreasing')

  total_frames = int(results['total_frames'])
  if squeeze:
    # Frame ids -> rank among the distinct ids, which drops frames without any skeleton.
    frame_inds = np.unique(frame_inds, return_inverse=True)[1].reshape(-1)
    total_frames = int(frame_inds.max()) + 1
  elif frame_inds.min() < 0 or frame_inds.max() >= total_frames:
    raise AnnotationError(f'record {rid!r}: frame_inds span [{frame_inds.min()}, {frame_inds.max()}] but '
                          f'total_frames is {total_frames} (use squeeze=True for 1-based frame ids)')
  results['total_frames'] = total_frames

  num_joints = keypoint.shape[1]
  num_person = int(np.bincount(frame_inds).max())
  new_kp = np.zeros([num_person, total_frames, num_joints, 2], dtype=np.float16)
  new_score = np.zeros([num_person, total_frames, num_joints], dtype=np.float16)
  # Slot of each skeleton within its frame: its position among the skeletons of that frame.
  first_of_frame = np.searchsorted(frame_inds, frame_inds, side='left')
  slot = np.arange(frame_inds.shape[0]) - first_of_frame
  new_kp[slot, frame_inds] = keypoint[:, :, :2]
  new_score[slot, frame_inds] = keypoint[:, :, 2]

  if num_person > max_person:
    per_frame = np.bincount(frame_inds, minlength=total_frames)
    for i in range(total_frames):
      count = per_frame[i]
      score_sum = new_score[:count, i].sum(-1)
      # Python's stable sort on float16 sums, as in MMAction2, so ties keep their storage order.
      order = sorted(range(count), key=lambda x, s=score_sum: -s[x])
      new_score[:count, i] = new_score[order, i]
      new_kp[:count, i] = new_kp[order, i]
    num_person = max_person
    results['num_person'] = num_person

  results['keypoint'] = new_kp[:num_person].astype(np.float32)
  results['keypoint_score'] = new_score[:num_person].astype(np.float32)
  return results
