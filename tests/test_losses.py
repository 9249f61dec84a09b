"""Losses: cross-entropy against MMAction2's own training loss; CB focal loss against the spec formula."""

import numpy as np
import pytest

from skeljax import losses


@pytest.mark.parametrize('model', ['stgcn', 'agcn', 'posec3d'])
def test_cross_entropy_parity_mmaction_train_loss(parity_1x, model):
  ref = parity_1x.npz(f'{model}_train_mode.npz')
  logits = parity_1x.require(ref, 'logits_train_mode', model)
  labels = parity_1x.require(ref, 'labels', model)
  loss = losses.cross_entropy(logits, labels)
  np.testing.assert_allclose(float(loss), float(parity_1x.require(ref, 'loss', model)), rtol=1e-6, atol=1e-6)


def _cb_focal_numpy(logits, labels, samples_per_cls, beta, gamma):
  """The formula of reference_spec §7, evaluated directly in float64."""
  n_c = np.asarray(samples_per_cls, np.float64)
  w = (1 - beta) / (1 - beta ** n_c)
  w = w / w.sum() * len(n_c)
  z = logits.astype(np.float64)
  y = np.eye(len(n_c))[labels]
  p = 1 / (1 + np.exp(-z))
  bce = -(y * np.log(p) + (1 - y) * np.log(1 - p))
  p_t = np.where(y == 1, p, 1 - p)
  modulator = (1 - p_t) ** gamma
  return np.sum(w[labels][:, None] * modulator * bce) / y.sum()


@pytest.mark.parametrize('gamma', [0.0, 2.0])
def test_cb_focal_loss_matches_formula(gamma):
  rng = np.random.default_rng(0)
  samples_per_cls = [518, 1993, 6260, 3, 40, 700]
  logits = rng.normal(0, 3, (9, 6)).astype(np.float32)
  labels = rng.integers(0, 6, 9)
  fn = losses.get_loss_fn({'name': 'cb_focal', 'samples_per_cls': samples_per_cls, 'beta': 0.9999,
                           'gamma': gamma})
  expected = _cb_focal_numpy(logits, labels, samples_per_cls, 0.9999, gamma)
  np.testing.assert_allclose(float(fn(logits, labels)), expected, rtol=2e-5)


def test_cb_focal_loss_finite_for_extreme_logits():
  logits = np.array([[-200.0, 200.0, 0.0]], np.float32)
  w = losses.class_balanced_weights([10, 10, 10], 0.9999)
  value = float(losses.cb_focal_loss(logits, np.array([0]), w, 2.0))
  assert np.isfinite(value) and value > 100  # confidently wrong on class 0 and class 1: huge loss


def test_unknown_loss_and_bad_counts_raise():
  with pytest.raises(ValueError, match='unknown loss'):
    losses.get_loss_fn({'name': 'hinge'})
  with pytest.raises(ValueError, match='samples_per_cls'):
    losses.class_balanced_weights([], 0.9)
