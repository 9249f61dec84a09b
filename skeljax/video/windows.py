"""Sliding windows over a clip: which frames each window classifies, and which window labels each frame.

Windows of ``window`` frames start every ``stride`` frames; when the last one stops short of the end, one
more window ends on the last frame, so every frame is classified (MMAction2's long-video demo does the
same for its tail). A clip shorter than ``window`` is one window over all of it.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np


def sliding_windows(total_frames: int, window: int, stride: int) -> list[tuple[int, int]]:
  """``[(start, end), ...]`` frame ranges (end exclusive) covering ``range(total_frames)``."""
  if window < 1 or stride < 1:
    raise ValueError(f'--window and --stride must be positive frame counts, got {window} and {stride}')
  if total_frames < 1:
    raise ValueError(f'cannot slide windows over {total_frames} frames')
  if total_frames <= window:
    return [(0, total_frames)]
  windows = [(start, start + window) for start in range(0, total_frames - window + 1, stride)]
  if windows[-1][1] < total_frames:
    windows.append((total_frames - window, total_frames))
  return windows


def window_record(record: Mapping, start: int, end: int) -> dict:
  """The clip of frames ``[start, end)`` of an annotation record (keypoints and scores sliced)."""
  clip = dict(record, keypoint=np.asarray(record['keypoint'])[:, start:end], total_frames=end - start)
  if 'keypoint_score' in record:
    clip['keypoint_score'] = np.asarray(record['keypoint_score'])[:, start:end]
  return clip


def nearest_window(windows: list[tuple[int, int]], total_frames: int) -> np.ndarray:
  """``[total_frames]`` index of the window whose centre is nearest each frame (the earlier one on ties)."""
  centres = np.array([(start + end - 1) / 2 for start, end in windows])
  frames = np.arange(total_frames)[:, None]
  return np.argmin(np.abs(frames - centres[None]), axis=1)
