"""Accuracy metrics on hand-worked examples from MMAction2's definitions (reference_spec §8)."""

import numpy as np
import pytest

from skeljax import metrics


def test_top_k_accuracy_hand_worked():
  # Sample 0: label 2 is top-1. Sample 1: label 0 is 2nd. Sample 2: label 1 is last of 3.
  scores = np.array([[0.1, 0.2, 0.7], [0.3, 0.6, 0.1], [0.5, 0.1, 0.4]])
  labels = np.array([2, 0, 1])
  top1, top2, top3 = metrics.top_k_accuracy(scores, labels, (1, 2, 3))
  assert top1 == pytest.approx(1 / 3)
  assert top2 == pytest.approx(2 / 3)
  assert top3 == pytest.approx(1.0)


def test_mean_class_accuracy_counts_prediction_only_classes_as_zero():
  # True labels {0, 1}; predictions {0, 2}. Class 0: 2 of 2 right; class 1: 0 of 2; class 2 appears only in
  # predictions and counts with accuracy 0, so the mean is over 3 classes: (1 + 0 + 0) / 3.
  scores = np.eye(3)[[0, 0, 2, 2]]
  labels = np.array([0, 0, 1, 1])
  assert metrics.mean_class_accuracy(scores, labels) == pytest.approx(1 / 3)


def test_mean_class_accuracy_ignores_classes_absent_everywhere():
  # 5 classes but only {1, 3} occur: class 1 has 1 of 2 right, class 3 has 1 of 1 right -> (0.5 + 1) / 2.
  scores = np.zeros((3, 5))
  scores[0, 1] = scores[1, 3] = scores[2, 3] = 1
  labels = np.array([1, 1, 3])
  assert metrics.mean_class_accuracy(scores, labels) == pytest.approx(0.75)


def test_evaluate_scores_keys_and_topk_larger_than_classes():
  out = metrics.evaluate_scores(np.array([[0.2, 0.8], [0.9, 0.1]]), np.array([1, 1]), topk=(1, 5))
  assert out == {'top1': 0.5, 'mean_class_accuracy': pytest.approx(0.25)}


def test_batch_topk_correct_agrees_with_host_metric():
  rng = np.random.default_rng(0)
  scores = rng.normal(size=(16, 10)).astype(np.float32)
  labels = rng.integers(0, 10, 16)
  for k in (1, 5):
    device = float(np.mean(metrics.batch_topk_correct(scores, labels, k)))
    assert device == pytest.approx(metrics.top_k_accuracy(scores, labels, (k,))[0])


def test_bad_shapes_raise():
  with pytest.raises(ValueError, match='scores must be'):
    metrics.top_k_accuracy(np.zeros((3, 4)), np.zeros(2))
