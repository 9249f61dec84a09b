"""Final layout ops: ``FormatGCNInput``, ``FormatShape``, and the packers that end a pipeline
(``PackActionInputs``; ``PackPoseKeypoints`` when PoseC3D heatmaps are rendered on the device).

Everything stays channel-last: GCN clips ``[nc, M, T, V, C]``, heatmap volumes ``[nc, T, H, W, K]``.
"""

from __future__ import annotations

import numpy as np

from skeljax.data.transforms_common import Transform


def _with_score_channel(results: dict, kp: np.ndarray) -> np.ndarray:
  """Append ``keypoint_score`` as a last channel (and drop the key, now merged) if present."""
  if 'keypoint_score' not in results:
    return kp
  score = np.asarray(results.pop('keypoint_score'))
  return np.concatenate([kp, score[..., None].astype(kp.dtype)], axis=-1)


class FormatGCNInput(Transform):
  """MMAction2 ``FormatGCNInput``: persons padded/truncated to ``num_person``, clips split out.

  1.x (default): ``keypoint [M, nc*T, V, C] -> [nc, num_person, T, V, C]``; missing persons are zeros
  (``mode='zero'``) or copies of a lone person 0 (``mode='loop'``); extra persons are cut in stored
  order. ``keypoint_score`` is appended as a channel.

  0.x (``input_format='NCTVM'``): the same padding (zeros only) and truncation, with the whole
  sequence as one clip. 0.x emits ``[C, T, V, M]``; skeljax emits the channel-last ``[1, M, T, V, C]``
  (its transpose plus a clip axis) and converts only at the boundary (fixtures, checkpoints).
  """

  def __init__(self, num_person: int = 2, mode: str = 'zero', input_format: str | None = None):
    if mode not in ('zero', 'loop'):
      raise ValueError(f"FormatGCNInput: mode must be 'zero' or 'loop', got {mode!r}")
    if input_format not in (None, 'NCTVM'):
      raise ValueError(f"FormatGCNInput: input_format must be 'NCTVM' (0.x) or absent, got {input_format!r}")
    if input_format == 'NCTVM' and mode != 'zero':
      raise ValueError("FormatGCNInput: 0.x input_format='NCTVM' only zero-pads persons")
    self.num_person = int(num_person)
    self.mode = mode
    self.input_format = input_format

  def __call__(self, results, rng=None):
    kp = _with_score_channel(results, self.keypoint(results))
    present = kp.shape[0]
    if present < self.num_person:
      pad = np.zeros((self.num_person - present,) + kp.shape[1:], dtype=kp.dtype)
      if self.mode == 'loop' and present == 1:
        pad[:] = kp[0]
      kp = np.concatenate([kp, pad], axis=0)
    kp = kp[:self.num_person]
    num_person, frames, num_joint, channels = kp.shape
    clips = 1 if self.input_format == 'NCTVM' else int(results.get('num_clips', 1))
    if frames % clips:
      raise self.fail(results, f'{frames} frames do not split into num_clips={clips} clips')
    kp = kp.reshape(num_person, clips, frames // clips, num_joint, channels).transpose(1, 0, 2, 3, 4)
    results['keypoint'] = np.ascontiguousarray(kp)
    results['input_shape'] = kp.shape
    return results


class FormatShape(Transform):
  """MMAction2 ``FormatShape`` for heatmap volumes, channel-last.

  ``imgs [N_crops * nc * L, H, W, K]`` (what ``GeneratePoseTarget`` yields; ``double=True`` doubles
  N_crops) ``-> [N_crops * nc, L, H, W, K]``. 'NCTHW' and 'NCTHW_Heatmap' name the same op here:
  they differ in MMAction2 only by where K sits in its input, and skeljax keeps K last throughout.
  """

  def __init__(self, input_format: str, collapse: bool = False):
    if input_format not in ('NCTHW', 'NCTHW_Heatmap'):
      raise ValueError(f"FormatShape: skeljax supports 'NCTHW' / 'NCTHW_Heatmap', got {input_format!r}")
    self.input_format = input_format
    self.collapse = collapse

  def __call__(self, results, rng=None):
    imgs = np.asarray(self.require(results, 'imgs'))
    if imgs.ndim != 4:
      raise self.fail(results, f'imgs must be [frames, H, W, K], got {imgs.shape}')
    clips, clip_len = int(results.get('num_clips', 1)), int(results.get('clip_len', imgs.shape[0]))
    if imgs.shape[0] % (clips * clip_len):
      raise self.fail(results, f'{imgs.shape[0]} frames do not split into num_clips={clips} x clip_len={clip_len}')
    imgs = imgs.reshape((-1, clip_len) + imgs.shape[1:])
    if self.collapse:
      if imgs.shape[0] != 1:
        raise self.fail(results, f'collapse=True needs a single view, got {imgs.shape[0]}')
      imgs = imgs[0]
    results['imgs'] = imgs
    results['input_shape'] = imgs.shape
    return results


def _label(op: Transform, results: dict, require_label: bool) -> np.int32:
  if 'label' not in results:
    if require_label:
      raise op.fail(results, "has no 'label' (pass require_label=False for unlabelled inference)")
    return np.int32(-1)
  label = np.asarray(results['label'])
  if label.size != 1 or not np.issubdtype(label.dtype, np.integer):
    raise op.fail(results, f'label must be one integer, got {results["label"]!r}')
  return np.int32(label.reshape(()))


class PackActionInputs(Transform):
  """Last op: ``{'inputs': float32, 'label': int32}``; ``inputs`` is ``imgs`` if present (PoseC3D
  ``[views, T, H, W, K]``), else ``keypoint`` (GCN ``[nc, M, T, V, C]``).

  MMAction2's ``meta_keys`` are accepted and ignored: batches carry arrays only.
  """

  def __init__(self, meta_keys=(), require_label: bool = True):
    self.require_label = require_label

  def __call__(self, results, rng=None):
    key = 'imgs' if 'imgs' in results else 'keypoint'
    inputs = np.asarray(self.require(results, key), dtype=np.float32)
    return {'inputs': inputs, 'label': _label(self, results, self.require_label)}


class PackPoseKeypoints(Transform):
  """Last op of a PoseC3D pipeline whose heatmaps are rendered on the device.

  Emits ``keypoint [nc, num_person, T, V, 2]``, ``keypoint_score [nc, num_person, T, V]`` (ones if the
  sample has none), ``img_shape`` int32 ``(h, w)``, ``label`` int32, ``person_valid`` bool
  ``[nc, num_person]``, and ``flip`` (bool) when a ``Flip`` ran. Missing persons are zeros with score 0
  and ``person_valid`` False, so the renderer skips them even with ``use_score=False``. Extra persons
  (more than ``num_person``) are, with ``overflow='top_score'``, reduced to the ``num_person`` with the
  highest summed score, kept in stored order; the reference renders all of them (merged by max), so
  pick ``num_person`` >= the dataset's largest M for exact heatmaps, or ``overflow='error'`` to be told.
  """

  def __init__(self, num_person: int = 2, overflow: str = 'top_score', require_label: bool = True):
    if overflow not in ('top_score', 'error'):
      raise ValueError(f"PackPoseKeypoints: overflow must be 'top_score' or 'error', got {overflow!r}")
    self.num_person = int(num_person)
    self.overflow = overflow
    self.require_label = require_label

  def __call__(self, results, rng=None):
    kp = self.keypoint(results)
    if kp.shape[-1] != 2:
      raise self.fail(results, f'needs 2D keypoints [M, T, V, 2], got {kp.shape}')
    score = np.asarray(results.get('keypoint_score', np.ones(kp.shape[:3], dtype=np.float32)))
    if score.shape != kp.shape[:3]:
      raise self.fail(results, f'keypoint_score {score.shape} does not match keypoint {kp.shape}')
    present = kp.shape[0]
    valid = np.ones(self.num_person, bool)
    if present > self.num_person:
      if self.overflow == 'error':
        raise self.fail(results, f'has {present} persons, more than num_person={self.num_person}')
      keep = np.sort(np.argsort(-score.sum(axis=(1, 2)), kind='stable')[:self.num_person])
      kp, score = kp[keep], score[keep]
    elif present < self.num_person:
      missing = self.num_person - present
      valid[present:] = False
      kp = np.concatenate([kp, np.zeros((missing,) + kp.shape[1:], kp.dtype)])
      score = np.concatenate([score, np.zeros((missing,) + score.shape[1:], score.dtype)])
    clips, frames = int(results.get('num_clips', 1)), kp.shape[1]
    if frames % clips:
      raise self.fail(results, f'{frames} frames do not split into num_clips={clips} clips')
    per_clip = (self.num_person, clips, frames // clips)
    packed = {
        'keypoint': kp.reshape(per_clip + kp.shape[2:]).transpose(1, 0, 2, 3, 4).astype(np.float32),
        'keypoint_score': score.reshape(per_clip + score.shape[2:]).transpose(1, 0, 2, 3).astype(np.float32),
        'img_shape': np.array(self.require(results, 'img_shape'), dtype=np.int32),
        'label': _label(self, results, self.require_label),
        'person_valid': np.broadcast_to(valid, (clips, self.num_person)).copy(),
    }
    if 'flip' in results:
      packed['flip'] = np.bool_(results['flip'])
    return packed
