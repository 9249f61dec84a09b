"""Writing a video atomically with OpenCV: frames go to a hidden file beside the target, renamed when done.

Pose environment only (imports cv2). OpenCV's wheels carry no H.264 encoder, so MP4 / MOV / MKV get
MPEG-4 Part 2 (``mp4v``, played by VLC, ffmpeg and most desktop players), AVI Motion JPEG, WebM VP8.
"""

from __future__ import annotations

import os
import pathlib

import cv2
import numpy as np

from skeljax.video import VideoError

FOURCC = {'.mp4': 'mp4v', '.mov': 'mp4v', '.mkv': 'mp4v', '.avi': 'MJPG', '.webm': 'VP80'}


class AtomicVideoWriter:
  """``with AtomicVideoWriter(path, fps, (w, h)) as w: w.write(bgr)``; ``path`` appears only on success."""

  def __init__(self, path: str | pathlib.Path, fps: float, size: tuple[int, int]):
    self.path = pathlib.Path(path)
    suffix = self.path.suffix.lower()
    if suffix not in FOURCC:
      raise VideoError(f'{self.path}: cannot write {suffix!r} videos; use one of {sorted(FOURCC)}')
    # Same folder (so the rename is atomic), same extension (OpenCV picks the container by it).
    self.partial = self.path.with_name(f'.{self.path.stem}.partial-{os.getpid()}{self.path.suffix}')
    self.size = size
    self._writer = cv2.VideoWriter(str(self.partial), cv2.VideoWriter_fourcc(*FOURCC[suffix]), fps, size)
    if not self._writer.isOpened():
      self.partial.unlink(missing_ok=True)
      raise VideoError(f'{self.path}: OpenCV cannot write a {FOURCC[suffix]} video here')
    self.frames = 0

  def write(self, frame: np.ndarray) -> None:
    """Appends one BGR frame ``[h, w, 3]`` uint8 of the writer's size."""
    if frame.shape[:2] != (self.size[1], self.size[0]):
      raise ValueError(f'{self.path}: frame {self.frames} is {frame.shape[1]}x{frame.shape[0]}, the video '
                       f'is {self.size[0]}x{self.size[1]}')
    self._writer.write(frame)
    self.frames += 1

  def __enter__(self) -> AtomicVideoWriter:
    return self

  def __exit__(self, exc_type, exc, tb) -> None:
    self._writer.release()
    if exc_type is None:
      os.replace(self.partial, self.path)
    else:
      self.partial.unlink(missing_ok=True)
