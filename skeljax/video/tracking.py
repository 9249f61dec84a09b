"""People across frames: per-frame BlazePose detections -> a fixed number of person slots ``[M, T, 33]``.

BlazePose's detector sees the whole frame at 224 x 224, where people far from the camera (a 1080p room
shot) are a few pixels tall and often missed. So each frame is searched twice, as MediaPipe's own legacy
solution tracks one person: a square crop around every person seen in the last ``patience`` frames (the
detector then sees them large), and the full frame while fewer than ``max_persons`` people are tracked.
Detections of the same person from several searches are merged; each person keeps its slot from frame to
frame (nearest previous pose), so ``keypoint[m]`` is one person over time, not MMAction2's per-frame
detection order. Numpy only.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Pose:
  """One detected person: ``xy [33, 2]`` pixels in the full frame, ``score [33]`` in [0, 1]."""
  xy: np.ndarray
  score: np.ndarray

  def box(self) -> np.ndarray:
    """``(x0, y0, x1, y1)`` around the landmarks."""
    return np.concatenate([self.xy.min(axis=0), self.xy.max(axis=0)])


def pose_distance(a: Pose, b: Pose) -> float:
  """Median landmark distance between two poses, in units of their mean box diagonal."""
  diagonal = 0.5 * sum(float(np.hypot(*(p.box()[2:] - p.box()[:2]))) for p in (a, b))
  return float(np.median(np.linalg.norm(a.xy - b.xy, axis=-1))) / max(diagonal, 1e-6)


@dataclasses.dataclass
class _Slot:
  last: Pose
  last_frame: int


class PoseTracker:
  """Assigns each frame's detections to at most ``max_persons`` slots; ``result()`` gives the arrays."""

  def __init__(self, max_persons: int, *, patience: int = 15, same_person: float = 0.15,
               max_motion: float = 0.5, crop_scale: float = 1.5, min_crop: int = 16):
    if max_persons < 1:
      raise ValueError(f'max_persons must be at least 1, got {max_persons}')
    self.max_persons = max_persons
    self.patience = patience  # frames a lost person is still searched for (and keeps its slot)
    self.same_person = same_person  # two detections closer than this are one person
    self.max_motion = max_motion  # a detection further than this from a slot's last pose starts another
    self.crop_scale = crop_scale
    self.min_crop = min_crop
    self._slots: list[_Slot] = []
    self._frames: list[dict[int, Pose]] = []

  @property
  def num_frames(self) -> int:
    """Frames added so far."""
    return len(self._frames)

  def _recent(self) -> list[int]:
    return [i for i, s in enumerate(self._slots) if self.num_frames - s.last_frame <= self.patience]

  def crop_boxes(self, width: int, height: int) -> list[tuple[int, int, int, int]]:
    """Square crops ``(x0, y0, x1, y1)``, clipped to the frame, around every recently seen person."""
    boxes = []
    for i in self._recent():
      box = self._slots[i].last.box()
      centre, side = (box[:2] + box[2:]) / 2, self.crop_scale * float((box[2:] - box[:2]).max())
      x0, y0 = np.floor(centre - side / 2).astype(int)
      x1, y1 = np.ceil(centre + side / 2).astype(int)
      x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, width), min(y1, height)
      if x1 - x0 >= self.min_crop and y1 - y0 >= self.min_crop:
        boxes.append((int(x0), int(y0), int(x1), int(y1)))
    return boxes

  def wants_full_frame(self) -> bool:
    """Whether this frame needs a whole-frame search: fewer than ``max_persons`` people were seen last frame."""
    seen = len(self._frames[-1]) if self._frames else 0
    return seen < self.max_persons

  def update(self, detections: Sequence[Pose]) -> dict[int, Pose]:
    """Adds one frame's detections (any order, duplicates allowed); returns ``{slot: pose}`` of the frame."""
    people: list[Pose] = []
    for pose in sorted(detections, key=lambda p: -float(p.score.mean())):
      if all(pose_distance(pose, kept) >= self.same_person for kept in people):
        people.append(pose)
    people = people[:self.max_persons]

    frame: dict[int, Pose] = {}
    pairs = sorted((pose_distance(self._slots[i].last, person), i, j)
                   for i in self._recent() for j, person in enumerate(people))
    matched = set()
    for cost, i, j in pairs:
      if cost < self.max_motion and i not in frame and j not in matched:
        frame[i] = people[j]
        matched.add(j)
    for j, person in enumerate(people):
      if j in matched:
        continue
      if len(self._slots) < self.max_persons:
        self._slots.append(_Slot(person, self.num_frames))
        frame[len(self._slots) - 1] = person
      else:  # every slot is taken: the one unseen the longest goes to this person
        free = [i for i in range(len(self._slots)) if i not in frame]
        frame[min(free, key=lambda i: self._slots[i].last_frame)] = person
    for i, person in frame.items():
      self._slots[i] = _Slot(person, self.num_frames)
    self._frames.append(frame)
    return frame

  def result(self) -> tuple[np.ndarray, np.ndarray]:
    """``keypoint [M, T, 33, 2]`` and ``score [M, T, 33]`` float32, most confident person first.

    A person absent from a frame has zeros there (coordinates and scores); M = 0 when nobody was found.
    """
    num_slots, num_frames = len(self._slots), self.num_frames
    keypoint = np.zeros((num_slots, num_frames, 33, 2), np.float32)
    score = np.zeros((num_slots, num_frames, 33), np.float32)
    for t, frame in enumerate(self._frames):
      for i, pose in frame.items():
        keypoint[i, t], score[i, t] = pose.xy, pose.score
    order = np.argsort(-score.sum(axis=(1, 2)), kind='stable')
    return keypoint[order], score[order]
