"""BlazePose's 33 landmarks -> the COCO-17 keypoints every COCO model reads (HRNet's order in MMAction2).

BlazePose names sides from the person's point of view, as COCO does, so the table is a pure selection:
each COCO joint is the BlazePose landmark of the same name. Numpy only: both processes import it.
"""

from __future__ import annotations

import numpy as np

BLAZEPOSE33_NAMES = (
    'nose', 'left_eye_inner', 'left_eye', 'left_eye_outer', 'right_eye_inner', 'right_eye', 'right_eye_outer',
    'left_ear', 'right_ear', 'mouth_left', 'mouth_right', 'left_shoulder', 'right_shoulder', 'left_elbow',
    'right_elbow', 'left_wrist', 'right_wrist', 'left_pinky', 'right_pinky', 'left_index', 'right_index',
    'left_thumb', 'right_thumb', 'left_hip', 'right_hip', 'left_knee', 'right_knee', 'left_ankle',
    'right_ankle', 'left_heel', 'right_heel', 'left_foot_index', 'right_foot_index')

COCO17_NAMES = (
    'nose', 'left_eye', 'right_eye', 'left_ear', 'right_ear', 'left_shoulder', 'right_shoulder', 'left_elbow',
    'right_elbow', 'left_wrist', 'right_wrist', 'left_hip', 'right_hip', 'left_knee', 'right_knee',
    'left_ankle', 'right_ankle')

# The COCO-17 limbs drawn on videos (``skeljax.data.heatmap.COCO_LIMBS``, equal by test: this module stays
# importable in the pose environment, which lacks skeljax's dependencies).
COCO17_EDGES = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11),
                (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))

# COCO joint i is BlazePose landmark BLAZEPOSE_TO_COCO17[i].
BLAZEPOSE_TO_COCO17 = (0, 2, 5, 7, 8, 11, 12, 13, 14, 15, 16, 23, 24, 25, 26, 27, 28)


def to_coco17(landmarks: np.ndarray, score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  """BlazePose ``landmarks [..., 33, C]`` and ``score [..., 33]`` -> COCO-17 ``[..., 17, C]``, ``[..., 17]``."""
  landmarks, score = np.asarray(landmarks), np.asarray(score)
  if landmarks.ndim < 2 or landmarks.shape[-2] != 33 or score.shape != landmarks.shape[:-1]:
    raise ValueError(f'expected BlazePose landmarks [..., 33, C] and scores [..., 33], got shapes '
                     f'{landmarks.shape} and {score.shape}')
  index = list(BLAZEPOSE_TO_COCO17)
  return landmarks[..., index, :], score[..., index]


def clip_to_frame(keypoint: np.ndarray, score: np.ndarray, img_shape: tuple[int, int]
                  ) -> tuple[np.ndarray, np.ndarray]:
  """Keypoints ``[..., V, 2]`` (x, y pixels) outside a ``(h, w)`` frame move to its border with score 0.

  BlazePose predicts every landmark, also those of body parts outside the picture; a keypoint the camera
  did not see is unobserved, as a top-down COCO estimator would report it.
  """
  h, w = img_shape
  keypoint = np.asarray(keypoint, np.float32)
  outside = ((keypoint[..., 0] < 0) | (keypoint[..., 0] > w - 1) | (keypoint[..., 1] < 0)
             | (keypoint[..., 1] > h - 1))
  clipped = np.stack([np.clip(keypoint[..., 0], 0, w - 1), np.clip(keypoint[..., 1], 0, h - 1)], axis=-1)
  return clipped.astype(np.float32), np.where(outside, 0, score).astype(np.float32)
