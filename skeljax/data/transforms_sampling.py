"""Temporal sampling: which frames a clip takes (``UniformSampleFrames``, ``PaddingWithLoop``),
``PoseDecode``, which gathers them, and ``DecompressPose``, which first makes Kinetics-style
per-skeleton rows into dense ``[M, T, V, 2]`` clips."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from skeljax.data.transforms_common import Transform


def _one_clip(num_frames: int, clip_len: int, draw) -> np.ndarray:
  """MMAction2's uniform sampling of one clip for ``num_frames >= clip_len`` (indices before mod).

  ``draw`` is a RandomState or a Generator seen through ``_Draws``; the two branches are the
  reference's: skip ``num_frames - clip_len`` random slots, or one random frame per equal segment.
  """
  if num_frames < 2 * clip_len:
    skipped = draw.choice(clip_len + 1, num_frames - clip_len)
    offset = np.zeros(clip_len + 1, dtype=np.int64)
    offset[skipped] = 1
    return np.arange(clip_len) + np.cumsum(offset)[:-1]
  bounds = np.array([i * num_frames // clip_len for i in range(clip_len + 1)])
  return bounds[:clip_len] + draw.below(np.diff(bounds))


class _Draws:
  """The three draws sampling needs, over either a legacy RandomState (the reference's test-time
  stream, reproduced bit for bit) or a Generator (training, seeded per element by grain)."""

  def __init__(self, source: np.random.RandomState | np.random.Generator):
    self.source = source
    self.legacy = isinstance(source, np.random.RandomState)

  def choice(self, n: int, k: int) -> np.ndarray:
    return self.source.choice(n, k, replace=False)

  def below(self, high):
    """Uniform integers in ``[0, high)`` (elementwise for an array)."""
    return self.source.randint(high) if self.legacy else self.source.integers(high)

  def uniform01(self) -> float:
    return float(self.source.rand() if self.legacy else self.source.random())


class UniformSampleFrames(Transform):
  """MMAction2 ``UniformSampleFrames``: ``num_clips`` clips of ``clip_len`` frames -> ``frame_inds``.

  Test mode reproduces the reference exactly: it reseeds a *local* ``RandomState(seed)`` per call
  (the reference reseeds the global numpy state, which would also reset every other consumer).
  ``p_interval`` is PySKL's training-time random temporal crop: each clip first keeps a random
  ``ratio in [p_interval]`` of the frames at a random offset (``1`` turns it off; ignored in test mode,
  as in PySKL).
  """

  def __init__(self, clip_len: int, num_clips: int = 1, test_mode: bool = False, seed: int = 255,
               p_interval: float | Sequence[float] = 1):
    if clip_len < 1 or num_clips < 1:
      raise ValueError(f'UniformSampleFrames: clip_len and num_clips must be >= 1, got {clip_len}, {num_clips}')
    self.clip_len = int(clip_len)
    self.num_clips = int(num_clips)
    self.test_mode = bool(test_mode)
    self.seed = int(seed)
    if isinstance(p_interval, (int, float)):
      p_interval = (p_interval, p_interval)
    self.p_interval = tuple(float(p) for p in p_interval)
    if len(self.p_interval) != 2 or not 0 < self.p_interval[0] <= self.p_interval[1] <= 1:
      raise ValueError(f'UniformSampleFrames: p_interval must be in (0, 1], got {p_interval}')
    self.random = not self.test_mode

  def test_indices(self, num_frames: int) -> np.ndarray:
    """Deterministic test-time indices ``[num_clips * clip_len]`` (before mod)."""
    draw = _Draws(np.random.RandomState(self.seed))
    clips = []
    for i in range(self.num_clips):
      if num_frames < self.clip_len:
        start = i if num_frames < self.num_clips else i * num_frames // self.num_clips
        clips.append(np.arange(start, start + self.clip_len))
      else:
        clips.append(_one_clip(num_frames, self.clip_len, draw))
    return np.concatenate(clips)

  def train_indices(self, num_frames: int, rng: np.random.Generator) -> np.ndarray:
    """Random training indices ``[num_clips * clip_len]`` (before mod)."""
    draw = _Draws(rng)
    low, high = self.p_interval
    clips = []
    for _ in range(self.num_clips):
      kept, offset = num_frames, 0
      if (low, high) != (1.0, 1.0):
        # PySKL: keep int(ratio * T) frames starting at a random offset; at least one frame.
        kept = max(1, int((draw.uniform01() * (high - low) + low) * num_frames))
        offset = int(draw.below(num_frames - kept + 1))
      if kept < self.clip_len:
        start = int(draw.below(kept))
        inds = np.arange(start, start + self.clip_len)
      else:
        inds = _one_clip(kept, self.clip_len, draw)
      clips.append(inds + offset)
    return np.concatenate(clips)

  def __call__(self, results, rng=None):
    num_frames = int(self.require(results, 'total_frames'))
    if num_frames < 1:
      raise self.fail(results, f'total_frames must be >= 1, got {num_frames}')
    if 'keypoint' in results and np.shape(results['keypoint'])[1] != num_frames:
      raise self.fail(results, f'total_frames={num_frames} but keypoint has '
                      f'{np.shape(results["keypoint"])[1]} frames')
    if self.test_mode:
      inds = self.test_indices(num_frames)
    else:
      inds = self.train_indices(num_frames, self.need_rng(results, rng))
    # The reference also marks "transitional" frames (person count changes) but its index
    # expression is a no-op, so it is left out.
    inds = np.mod(inds, num_frames) + results.get('start_index', 0)
    results['frame_inds'] = inds.astype(np.int32)
    results['clip_len'] = self.clip_len
    results['frame_interval'] = None
    results['num_clips'] = self.num_clips
    return results


class PaddingWithLoop(Transform):
  """MMAction2 0.x ``PaddingWithLoop``: frames ``0..clip_len-1`` mod T (loops short videos and
  truncates long ones to their first ``clip_len`` frames)."""

  def __init__(self, clip_len: int, num_clips: int = 1):
    self.clip_len = int(clip_len)
    self.num_clips = int(num_clips)

  def __call__(self, results, rng=None):
    num_frames = int(self.require(results, 'total_frames'))
    if num_frames < 1:
      raise self.fail(results, f'total_frames must be >= 1, got {num_frames}')
    start = results.get('start_index', 0)
    inds = np.mod(np.arange(start, start + self.clip_len), num_frames)
    results['frame_inds'] = inds.astype(np.int64)
    results['clip_len'] = self.clip_len
    results['frame_interval'] = None
    results['num_clips'] = self.num_clips
    return results


class PoseDecode(Transform):
  """MMAction2 ``PoseDecode``: gather ``frame_inds`` (+ ``offset``) along T, cast to float32.

  Without ``frame_inds`` all ``total_frames`` frames are taken.
  """

  def __call__(self, results, rng=None):
    kp = self.keypoint(results)
    results.setdefault('total_frames', kp.shape[1])
    if 'frame_inds' not in results:
      results['frame_inds'] = np.arange(results['total_frames'])
    frame_inds = np.asarray(results['frame_inds'])
    if frame_inds.ndim != 1:
      frame_inds = np.squeeze(frame_inds)
      results['frame_inds'] = frame_inds
    frame_inds = frame_inds + results.get('offset', 0)
    if frame_inds.size and (frame_inds.min() < 0 or frame_inds.max() >= kp.shape[1]):
      raise self.fail(results, f'frame indices span [{frame_inds.min()}, {frame_inds.max()}] but '
                      f'keypoint has {kp.shape[1]} frames')
    if 'keypoint_score' in results:
      score = np.asarray(results['keypoint_score'])
      if score.shape != kp.shape[:3]:
        raise self.fail(results, f'keypoint_score shape {score.shape} does not match keypoint {kp.shape}')
      results['keypoint_score'] = score[:, frame_inds].astype(np.float32)
    results['keypoint'] = kp[:, frame_inds].astype(np.float32)
    return results


class DecompressPose(Transform):
  """MMAction2 1.x ``DecompressPose``: compressed rows ``keypoint [N, V, 3]`` + ``frame_inds [N]`` ->
  dense ``keypoint [M, T, V, 2]``, ``keypoint_score [M, T, V]`` (``skeljax.data.decompress``)."""

  def __init__(self, squeeze: bool = True, max_person: int = 10):
    self.squeeze = squeeze
    self.max_person = int(max_person)

  def __call__(self, results, rng=None):
    from skeljax.data.decompress import decompress_pose  # pylint: disable=import-outside-toplevel
    return decompress_pose(results, squeeze=self.squeeze, max_person=self.max_person)
