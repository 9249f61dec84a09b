"""Drawing COCO-17 skeletons and the predicted action on video frames (MMAction2 demo_skeleton's output).

Pose environment only (imports cv2). Frames are OpenCV's BGR; sizes scale with the frame height so a 1080p
and a 240p video look alike.
"""

from __future__ import annotations

import cv2
import numpy as np

from skeljax.video.blazepose import COCO17_EDGES

# One BGR colour per person slot (cycled), far from skin and white walls.
PERSON_COLORS = ((0, 200, 255), (255, 160, 0), (60, 220, 60), (200, 60, 255), (0, 80, 255), (255, 255, 0))
MIN_SCORE = 0.3  # mmpose's default keypoint threshold for drawing


def draw_skeletons(frame: np.ndarray, keypoint: np.ndarray, score: np.ndarray,
                   min_score: float = MIN_SCORE) -> None:
  """Draws in place the people ``keypoint [M, 17, 2]`` (pixels) whose joints score ``>= min_score``."""
  thickness = max(2, round(frame.shape[0] / 360))
  for m in range(keypoint.shape[0]):
    color = PERSON_COLORS[m % len(PERSON_COLORS)]
    shown = score[m] >= min_score
    points = [tuple(int(round(v)) for v in p) for p in keypoint[m]]
    for a, b in COCO17_EDGES:
      if shown[a] and shown[b]:
        cv2.line(frame, points[a], points[b], color, thickness, cv2.LINE_AA)
    for v in np.flatnonzero(shown):
      cv2.circle(frame, points[v], thickness + 1, (255, 255, 255), -1, cv2.LINE_AA)
      cv2.circle(frame, points[v], thickness + 1, color, 1, cv2.LINE_AA)


def draw_label(frame: np.ndarray, text: str) -> None:
  """Writes ``text`` in the top-left corner, white on a dark box (Hershey fonts: non-ASCII shows as '?')."""
  text = text.encode('ascii', 'replace').decode('ascii')
  scale = max(0.5, frame.shape[0] / 720)
  thickness = max(1, round(scale * 1.5))
  (width, height), baseline = cv2.getTextSize(text, cv2.FONT_HERSHEY_DUPLEX, scale, thickness)
  margin = round(8 * scale)
  cv2.rectangle(frame, (0, 0), (width + 2 * margin, height + baseline + 2 * margin), (0, 0, 0), -1)
  cv2.putText(frame, text, (margin, margin + height), cv2.FONT_HERSHEY_DUPLEX, scale, (255, 255, 255),
              thickness, cv2.LINE_AA)
