"""From a video to skeletons: pose extraction with MediaPipe BlazePose in its own environment.

MediaPipe 0.10.21 pins protobuf < 5, which the JAX stack does not accept, so it lives in ``.venv-pose``
(``make pose-setup``, ``requirements-pose.txt``) and runs as a subprocess. The two sides:

- main process (numpy 2, JAX; never imports mediapipe or cv2): ``probe`` (file checks), ``pose_env`` (finds
  the pose environment and runs the worker), ``extract`` (videos -> annotation records), ``render``
  (annotated video request), ``windows`` (sliding windows);
- pose environment (mediapipe, opencv): ``worker`` (the subprocess entry point), ``reader`` (decoding),
  ``landmarker`` (BlazePose from the wheel's bundled models), ``draw`` and ``writer`` (annotated video);
- either side (numpy only): ``blazepose`` (BlazePose-33 -> COCO-17 table), ``tracking`` (people across frames).

This module is imported by both sides, so it holds only plain-Python definitions.
"""

from __future__ import annotations

import pathlib

VIDEO_EXTENSIONS = ('.mp4', '.avi', '.mov', '.mkv', '.webm')


class VideoError(ValueError):
  """A video that cannot be used (unreadable, truncated, no person, ...); the message names the file."""


def is_video(path) -> bool:
  """True when ``path`` has one of the video extensions (``VIDEO_EXTENSIONS``, any case)."""
  return pathlib.Path(path).suffix.lower() in VIDEO_EXTENSIONS
