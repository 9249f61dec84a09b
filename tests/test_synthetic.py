"""The procedural synthetic skeleton dataset: determinism, layouts, degradations, and that classes are learnable."""

from __future__ import annotations

import numpy as np
import pytest

from skeljax.data import synthetic
from skeljax.models.gcn import graph


def _split(n=52, **kwargs):
  return list(synthetic.generate_split('train', n, **kwargs))


def test_deterministic_from_seed_and_index():
  a, b = _split(seed=3), _split(seed=3)
  for x, y in zip(a, b):
    assert x['frame_dir'] == y['frame_dir'] and x['label'] == y['label']
    np.testing.assert_array_equal(x['keypoint'], y['keypoint'])
  c = _split(seed=4)
  assert any(x['keypoint'].shape != y['keypoint'].shape or not np.array_equal(x['keypoint'], y['keypoint'])
             for x, y in zip(a, c))
  # A clip does not depend on how many clips the split has.
  np.testing.assert_array_equal(_split(13, seed=3)[5]['keypoint'], a[5]['keypoint'])


def test_ntu25_3d_layout_and_body_geometry():
  clips = _split(seed=0)
  assert sorted(c['label'] for c in clips) == sorted(list(range(len(synthetic.ACTIONS))) * 4)
  bones = graph.get_layout('nturgb+d').inward
  for clip in clips:
    kp = clip['keypoint']
    m, t, v, c = kp.shape
    assert kp.dtype == np.float32 and (v, c) == (25, 3) and m in (1, 2) and 50 <= t <= 120
    assert t == clip['total_frames']
    if synthetic.ACTIONS[clip['label']] in synthetic.TWO_PERSON_ACTIONS:
      assert m == 2
    person = kp[0]
    seen = np.all(person != 0, axis=-1)  # [T, V]
    # Kinect-like placement: in front of the camera, head above the feet.
    assert np.all(person[..., 2][seen] > 1.0)
    ok = seen[:, 3] & seen[:, 15]
    assert np.all(person[ok, 3, 1] > person[ok, 15, 1])
    # Bone lengths are plausible for a human (metres) wherever both ends are seen.
    for child, parent in bones:
      both = seen[:, child] & seen[:, parent]
      length = np.linalg.norm(person[both, child] - person[both, parent], axis=-1)
      assert np.all(length < 0.7), (child, parent, length.max())


def test_degradations_are_present_across_a_split():
  clips = _split(104, seed=1)
  lost_frames = sum(np.any(np.all(c['keypoint'][0] == 0, axis=(-1, -2))) for c in clips)
  lost_joints = sum(np.any(np.all(c['keypoint'][0] == 0, axis=-1) & ~np.all(c['keypoint'][0] == 0, axis=(-1, -2))[:, None])
                    for c in clips)
  bystanders = sum(c['keypoint'].shape[0] == 2 for c in clips
                   if synthetic.ACTIONS[c['label']] not in synthetic.TWO_PERSON_ACTIONS)
  assert 10 < lost_frames < 80 and lost_joints > 5 and bystanders > 5
  speeds = {synthetic.ACTIONS[c['label']]: c['total_frames'] for c in clips}
  assert len(set(speeds.values())) > 3  # clip lengths vary


def test_coco17_2d_projection():
  clips = _split(26, seed=2, edition='coco17_2d')
  for clip in clips:
    kp, score = clip['keypoint'], clip['keypoint_score']
    assert kp.shape[2:] == (17, 2) and score.shape == kp.shape[:3]
    assert clip['img_shape'] == (1080, 1920)
    seen = score > 0
    assert np.all(np.all(kp == 0, axis=-1)[~seen])  # missing joints have zero coordinates and score
    x, y = kp[..., 0][seen], kp[..., 1][seen]
    assert np.mean((x > 0) & (x < 1920) & (y > 0) & (y < 1080)) > 0.98
    p = kp[0]
    ok = seen[0][:, 0] & seen[0][:, 15]
    assert np.all(p[ok, 0, 1] < p[ok, 15, 1])  # image y grows downward: nose above the ankle
  with pytest.raises(ValueError, match='edition'):
    synthetic.generate_clip(0, np.random.default_rng(0), edition='coco18')


def _motion_features(clip) -> np.ndarray:
  """Hand-made, view-invariant-ish features: per-joint height-relative trajectories, summarised."""
  kp = clip['keypoint'][0]
  seen = np.all(kp != 0, axis=-1)
  kp = np.where(seen[..., None], kp - kp[:, :1], np.nan)  # relative to the spine base
  idx = np.linspace(0, kp.shape[0] - 1, 16).astype(int)
  y = kp[idx][..., 1]  # vertical offsets [16, V]
  span = np.nanmax(kp[..., 1], 0) - np.nanmin(kp[..., 1], 0)
  speed = np.nanmean(np.linalg.norm(np.diff(kp, axis=0), axis=-1), 0)
  feats = np.concatenate([y.reshape(-1), span, speed])
  return np.nan_to_num(feats)


def test_classes_are_learnable_by_a_simple_classifier():
  """A nearest-centroid classifier on crude motion features beats chance by far, yet is far from perfect."""
  train = [c for c in synthetic.generate_split('train', 260, seed=0)]
  val = [c for c in synthetic.generate_split('val', 130, seed=0)]
  xt, yt = np.stack([_motion_features(c) for c in train]), np.array([c['label'] for c in train])
  xv, yv = np.stack([_motion_features(c) for c in val]), np.array([c['label'] for c in val])
  mean, std = xt.mean(0), xt.std(0) + 1e-6
  xt, xv = (xt - mean) / std, (xv - mean) / std
  centroids = np.stack([xt[yt == k].mean(0) for k in range(len(synthetic.ACTIONS))])
  pred = np.argmin(((xv[:, None] - centroids[None]) ** 2).sum(-1), axis=1)
  accuracy = np.mean(pred == yv)
  chance = 1 / len(synthetic.ACTIONS)
  print(f"nearest-centroid accuracy {accuracy:.3f}")
  assert 4 * chance < accuracy < 0.98, accuracy
