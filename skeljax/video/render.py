"""The annotated video (MMAction2 demo_skeleton's output): skeletons and the action drawn on every frame.

Decoding, drawing and encoding all happen in the pose environment (OpenCV lives there); this side hands
over the poses and one text per frame, and the worker writes ``out`` atomically (a hidden partial file in
the same folder, renamed when complete).
"""

from __future__ import annotations

import json
import pathlib
import tempfile
from collections.abc import Mapping, Sequence

import numpy as np

from skeljax.video import VIDEO_EXTENSIONS, VideoError, is_video, pose_env, probe


def check_output_path(video: str | pathlib.Path, out: str | pathlib.Path) -> pathlib.Path:
  """``out`` as a path for a new video (known extension, not the input); raises naming it otherwise."""
  out = pathlib.Path(out)
  if not is_video(out):
    raise VideoError(f'{out}: the annotated video needs one of the extensions {", ".join(VIDEO_EXTENSIONS)}')
  if out.exists() and out.resolve() == pathlib.Path(video).resolve():
    raise VideoError(f'{out}: the annotated video would overwrite its input')
  if out.is_dir():
    raise VideoError(f'{out}: is a folder')
  return out


def write_annotated_video(video: str | pathlib.Path, out: str | pathlib.Path, record: Mapping,
                          frame_texts: Sequence[str]) -> pathlib.Path:
  """Writes ``video`` with ``record``'s COCO-17 people and ``frame_texts[t]`` drawn on frame t to ``out``."""
  video, out = probe.check_video_file(video), check_output_path(video, out)
  keypoint = np.asarray(record['keypoint'], np.float32)
  score = np.asarray(record['keypoint_score'], np.float32)
  if keypoint.ndim != 4 or keypoint.shape[2:] != (17, 2) or score.shape != keypoint.shape[:3]:
    raise ValueError(f'{video}: poses must be COCO-17 keypoint [M, T, 17, 2] with scores [M, T, 17], got '
                     f'{keypoint.shape} and {score.shape}')
  if len(frame_texts) != keypoint.shape[1]:
    raise ValueError(f'{video}: {len(frame_texts)} frame texts for {keypoint.shape[1]} frames')
  out.parent.mkdir(parents=True, exist_ok=True)
  with tempfile.TemporaryDirectory(prefix='skeljax-render-') as tmp:
    poses, labels = pathlib.Path(tmp) / 'poses.npz', pathlib.Path(tmp) / 'labels.json'
    np.savez(poses, keypoint=keypoint, keypoint_score=score)
    labels.write_text(json.dumps(list(frame_texts)))
    pose_env.run_worker('render', ['--video', str(video), '--poses', str(poses), '--labels', str(labels),
                                   '--out', str(out)])
  return out

