"""Videos -> MMAction2 annotation records of COCO-17 2D poses, extracted in the pose environment.

Each record has ``frame_dir`` (the file name without extension), ``total_frames``, ``img_shape`` and
``original_shape`` ``(h, w)``, ``keypoint [M, T, 17, 2]`` (pixels) and ``keypoint_score [M, T, 17]``, as
MMAction2's ``ntu_pose_extraction.py`` writes them; no ``label`` (the caller knows it). ``M`` is the number
of people tracked (at most ``max_persons``); a frame where a person is not found holds zeros with score 0.
"""

from __future__ import annotations

import dataclasses
import pathlib
import tempfile
from collections.abc import Callable, Sequence

import numpy as np

from skeljax.video import pose_env, probe


@dataclasses.dataclass
class VideoPoses:
  """One video's record, its frame rate (``None`` when the container states none) and extraction time."""
  record: dict
  fps: float | None
  seconds: float


def extract_poses(videos: Sequence[str | pathlib.Path], *, max_persons: int = 2,
                  progress: Callable[[str], None] | None = pose_env.print_progress) -> list[VideoPoses]:
  """Poses of every video, in order, from one worker run; raises naming the first unusable video."""
  if max_persons < 1:
    raise ValueError(f'max_persons must be at least 1, got {max_persons}')
  paths = [probe.check_video_file(v) for v in videos]
  with tempfile.TemporaryDirectory(prefix='skeljax-poses-') as out_dir:
    result = pose_env.run_worker(
        'extract', ['--out_dir', out_dir, '--max_persons', str(max_persons), '--progress_every', '100',
                    *map(str, paths)], progress=progress)
    poses = []
    for path, info in zip(paths, result['videos']):
      with np.load(info['npz']) as arrays:
        keypoint = arrays['keypoint'].astype(np.float32)
        score = arrays['keypoint_score'].astype(np.float32)
      shape = (int(info['height']), int(info['width']))
      record = dict(frame_dir=path.stem, total_frames=int(info['total_frames']), img_shape=shape,
                    original_shape=shape, keypoint=keypoint, keypoint_score=score)
      poses.append(VideoPoses(record, info['fps'], float(info['seconds'])))
  return poses
