"""DG-STGCN's PySKL pipeline pieces: ``PreNormalize3D`` centring without rotating, and ``RandomRot``.

PySKL's ``PreNormalize3D(align_spine=False)`` drops empty frames and centres like MMAction2's, but skips both
rotations (its one flag gates the spine and the shoulder alignment); in MMAction2's (skeljax's) argument names
that is ``align_spine=False, align_shoulder=False``. Checked against MMAction2 1.2.0's own output on the
pipeline fixture: the centred clip must be exactly the reference's normalised clip before its rotation.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from skeljax.data import transforms as T
from skeljax.data.pipeline import build_pipeline


def rotation(axis: int, angle: float) -> np.ndarray:
  """Right-handed rotation by ``angle`` about coordinate ``axis`` (Rodrigues), independent of the code under test."""
  e = np.eye(3)[axis]
  cross = np.array([[0, -e[2], e[1]], [e[2], 0, -e[0]], [-e[1], e[0], 0]])
  return np.cos(angle) * np.eye(3) + np.sin(angle) * cross + (1 - np.cos(angle)) * np.outer(e, e)


def test_prenormalize3d_centre_only_parity(parity_1x):
  refs = parity_1x.npz('gcn_pipeline_refs.npz')
  raw = parity_1x.require(refs, 'raw_keypoint')
  rotated_ref = parity_1x.require(refs, 'prenorm_keypoint')  # MMAction2 PreNormalize3D(), both rotations
  op = T.PreNormalize3D(align_spine=False, align_shoulder=False)
  out = op({'keypoint': raw.copy(), 'total_frames': raw.shape[1]})
  centred = out['keypoint']
  # Same frames kept and the same centre as the reference.
  assert out['total_frames'] == int(parity_1x.require(refs, 'prenorm_total_frames')) == centred.shape[1]
  np.testing.assert_array_equal(out['body_center'], parity_1x.require(refs, 'prenorm_body_center'))
  np.testing.assert_array_equal(centred[0, 0, 1], 0)
  # The reference's output is this clip rotated once: fit that rotation (orthogonal Procrustes) and check it
  # is a proper rotation that explains every joint.
  u, _, vt = np.linalg.svd(centred.reshape(-1, 3).T @ rotated_ref.reshape(-1, 3).astype(np.float64))
  fitted = (u @ vt).T
  assert np.isclose(np.linalg.det(fitted), 1.0)
  np.testing.assert_allclose(np.einsum('ab,mtvb->mtva', fitted, centred), rotated_ref, atol=2e-5)
  assert not np.allclose(fitted, np.eye(3), atol=1e-2)  # the reference did rotate this clip
  # No rotation at all: every non-empty joint is the raw joint minus the centre (PySKL's arithmetic).
  kept = raw[:, 3:137]  # person 0 is empty in frames 0-2 (fixture README)
  mask = np.any(kept != 0, axis=-1, keepdims=True)
  np.testing.assert_array_equal(centred, (kept - kept[0, 0, 1]) * mask)


def test_dgstgcn_pipelines_centre_without_rotating():
  cfg = importlib.import_module('configs.dgstgcn_ntu60').get_config('xsub,bone')
  for pipeline in (cfg.train_pipeline, cfg.val_pipeline, cfg.test_pipeline):
    assert pipeline[0] == {'type': 'PreNormalize3D', 'align_spine': False, 'align_shoulder': False}
  assert cfg.train_pipeline[1] == {'type': 'RandomRot', 'theta': 0.2}
  assert not any(op['type'] == 'RandomRot' for op in cfg.val_pipeline + cfg.test_pipeline)
  rng = np.random.default_rng(0)
  clip = rng.normal(size=(2, 40, 25, 3)).astype(np.float32)
  packed = build_pipeline(cfg.val_pipeline)({'keypoint': clip, 'total_frames': 40, 'label': 3})
  assert packed['inputs'].shape == (1, 2, 100, 25, 3) and packed['label'] == 3
  with pytest.raises(ValueError, match='3D skeletons only'):
    importlib.import_module('configs.dgstgcn_ntu60').get_config('xsub,joint,2d')


def test_random_rot_matches_pysk_semantics():
  theta = 0.2
  op = T.RandomRot(theta=theta)
  assert op.random
  skeleton = np.random.default_rng(1).normal(size=(2, 6, 25, 3)).astype(np.float32)
  out = op({'keypoint': skeleton}, np.random.default_rng(7))['keypoint']
  angles = np.random.default_rng(7).uniform(-theta, theta, size=3)
  # PySKL's rx, ry, rz rotate by minus the drawn angle (their sin signs), composed as rz @ ry @ rx.
  expected = rotation(2, -angles[2]) @ rotation(1, -angles[1]) @ rotation(0, -angles[0])
  np.testing.assert_allclose(out, np.einsum('ab,mtvb->mtva', expected, skeleton), atol=1e-6)
  assert out.dtype == np.float64
  np.testing.assert_allclose(np.linalg.norm(out, axis=-1), np.linalg.norm(skeleton, axis=-1), rtol=1e-6)
  zeros = np.zeros((1, 4, 25, 3), np.float32)
  assert op({'keypoint': zeros}, np.random.default_rng(0))['keypoint'] is zeros
  with pytest.raises(ValueError, match='needs rng'):
    op({'keypoint': skeleton})


def test_random_rot_2d_draws_like_the_reference():
  """2D: one angle from ``uniform(-theta)``, i.e. U(-theta, 1), rotating (x, y) counter-clockwise."""
  op = T.RandomRot(theta=0.3)
  point = np.array([[[[1.0, 0.0]]]])
  angles = [np.arctan2(*op({'keypoint': point}, np.random.default_rng(s))['keypoint'][0, 0, 0, ::-1])
            for s in range(200)]
  assert -0.3 <= min(angles) < -0.2 and 0.9 < max(angles) <= 1.0
  assert np.isclose(angles[0], np.random.default_rng(0).uniform(-0.3))
