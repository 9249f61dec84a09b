"""BlazePose from the model files inside the mediapipe 0.10.21 wheel, run by the Tasks ``PoseLandmarker``.

Pose environment only (imports mediapipe). The wheel ships the legacy solution's detector
(``pose_detection.tflite``) and full landmark model (``pose_landmark_full.tflite``); later releases
download them at run time, which an offline machine cannot do. The Tasks ``PoseLandmarker`` (several
people, ``num_poses``) runs the same two networks but reads a ``.task`` bundle whose models carry
input-normalisation metadata. The legacy files have none, so the bundle is built here, in memory, with the
metadata the legacy graphs imply: the detector takes pixels scaled to [-1, 1]
(``pose_detection_cpu.pbtxt``), the landmark model pixels scaled to [0, 1] (``pose_landmark_by_roi``).
With it, the Tasks landmarks equal the legacy solution's on the same image (tested).
"""

from __future__ import annotations

import io
import pathlib
import zipfile

import mediapipe as mp
import numpy as np
from mediapipe.tasks.python import BaseOptions, vision
from mediapipe.tasks.python.metadata.metadata_writers import metadata_writer, writer_utils

from skeljax.video import tracking

# Bundle member -> (file under mediapipe/modules, input mean, input std): x_model = (pixel - mean) / std.
_MODELS = {
    'pose_detector.tflite': ('pose_detection/pose_detection.tflite', 127.5, 127.5),
    'pose_landmarks_detector.tflite': ('pose_landmark/pose_landmark_full.tflite', 0.0, 255.0),
}


def _with_image_metadata(model: bytes, mean: float, std: float) -> bytes:
  writer = metadata_writer.MetadataWriter.create(bytearray(model))
  writer.add_general_info('BlazePose', 'MediaPipe legacy pose model with input normalisation metadata')
  writer.add_image_input(norm_mean=[mean], norm_std=[std])
  for _ in writer_utils.get_output_tensor_types(bytearray(model)):
    writer.add_feature_output()
  return bytes(writer.populate()[0])


def task_bundle() -> bytes:
  """The ``.task`` zip (detector + landmark model with metadata) made from the wheel's bundled files."""
  modules = pathlib.Path(mp.__file__).parent / 'modules'
  buffer = io.BytesIO()
  with zipfile.ZipFile(buffer, 'w') as bundle:
    for member, (relative, mean, std) in _MODELS.items():
      path = modules / relative
      if not path.is_file():
        raise RuntimeError(f'mediapipe {mp.__version__} has no bundled {relative}; the pose environment needs '
                           'mediapipe 0.10.21 (requirements-pose.txt), which ships BlazePose inside the wheel')
      bundle.writestr(member, _with_image_metadata(path.read_bytes(), mean, std))
  return buffer.getvalue()


class BlazePose:
  """BlazePose (full) on RGB frames; ``detect(frame, box)`` returns the people found in ``box`` of ``frame``."""

  def __init__(self, num_poses: int, *, min_detection: float = 0.5, min_presence: float = 0.5):
    options = vision.PoseLandmarkerOptions(
        base_options=BaseOptions(model_asset_buffer=task_bundle()), running_mode=vision.RunningMode.IMAGE,
        num_poses=num_poses, min_pose_detection_confidence=min_detection,
        min_pose_presence_confidence=min_presence)
    self._landmarker = vision.PoseLandmarker.create_from_options(options)

  def detect(self, frame: np.ndarray, box: tuple[int, int, int, int] | None = None) -> list[tracking.Pose]:
    """People in ``frame [H, W, 3]`` uint8 RGB (inside ``box = (x0, y0, x1, y1)``), in full-frame pixels."""
    height, width = frame.shape[:2]
    x0, y0, x1, y1 = box if box is not None else (0, 0, width, height)
    crop = np.ascontiguousarray(frame[y0:y1, x0:x1])
    result = self._landmarker.detect(mp.Image(image_format=mp.ImageFormat.SRGB, data=crop))
    poses = []
    for landmarks in result.pose_landmarks:
      xy = np.array([[p.x * (x1 - x0) + x0, p.y * (y1 - y0) + y0] for p in landmarks], np.float32)
      # Visibility: how likely the landmark is seen (not occluded), the nearest to a COCO keypoint score.
      score = np.array([p.visibility for p in landmarks], np.float32)
      poses.append(tracking.Pose(xy, np.clip(score, 0, 1)))
    return poses

  def close(self) -> None:
    """Frees the landmarker's graph."""
    self._landmarker.close()
