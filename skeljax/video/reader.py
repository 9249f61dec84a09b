"""Decoding a video with OpenCV (its FFmpeg build): size, frame rate, frames; errors name the file.

Pose environment only (imports cv2). A stream that ends before the frame count its container declares is
reported as truncated for the containers whose count is exact (MP4/QuickTime sample tables, AVI headers);
Matroska/WebM only estimate it from the duration, so there the decoded frames count.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Iterator

import cv2
import numpy as np

from skeljax.video import VideoError

_EXACT_FRAME_COUNT = ('.mp4', '.m4v', '.mov', '.avi')


class VideoReader:
  """One video file: ``fps``, ``declared_frames``, ``height``, ``width`` (exact once a frame is decoded)."""

  def __init__(self, path: str | pathlib.Path):
    self.path = pathlib.Path(path)
    capture = self._open()
    fps = capture.get(cv2.CAP_PROP_FPS)
    self.fps = float(fps) if math.isfinite(fps) and fps > 0 else None
    self.declared_frames = max(int(capture.get(cv2.CAP_PROP_FRAME_COUNT)), 0)
    self.width = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH))
    self.height = int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    capture.release()  # reopened by frames(): many readers may wait for their turn
    self.decoded_frames = 0

  def _open(self) -> cv2.VideoCapture:
    if not self.path.is_file():
      raise VideoError(f'{self.path}: video file does not exist')
    capture = cv2.VideoCapture(str(self.path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
      raise VideoError(f'{self.path}: cannot be opened as a video (not a video, an unknown codec, or damaged)')
    return capture

  def frames(self, rgb: bool = True) -> Iterator[np.ndarray]:
    """Every frame ``[H, W, 3]`` uint8 (RGB, or OpenCV's BGR); raises ``VideoError`` when cut short."""
    capture = self._open()
    self.decoded_frames = 0
    try:
      while True:
        ok, frame = capture.read()
        if not ok:
          break
        if self.decoded_frames == 0:  # the decoded size (rotation metadata applied), not the stream's
          self.height, self.width = frame.shape[:2]
        elif frame.shape[:2] != (self.height, self.width):
          raise VideoError(f'{self.path}: frame {self.decoded_frames} is {frame.shape[1]}x{frame.shape[0]}, '
                           f'the frames before it {self.width}x{self.height}')
        self.decoded_frames += 1
        yield cv2.cvtColor(frame, cv2.COLOR_BGR2RGB) if rgb else frame
    finally:
      capture.release()
    if self.decoded_frames == 0:
      raise VideoError(f'{self.path}: no frame could be decoded (empty, truncated or damaged video)')
    if self.path.suffix.lower() in _EXACT_FRAME_COUNT and self.decoded_frames < self.declared_frames:
      raise VideoError(f'{self.path}: truncated or damaged: decoding stopped after {self.decoded_frames} of '
                       f'the {self.declared_frames} frames its container declares')
