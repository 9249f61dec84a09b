"""``layers.average_clips``: MMAction2's clip averaging, checked against values worked by hand."""

import math

import jax.numpy as jnp
import numpy as np
import pytest

from skeljax.models import layers

LOG3 = math.log(3.0)
# [N=2, clips=2, classes=2]. Sample 0 mixes logit scales: clip 0 softmaxes to [1/4, 3/4], clip 1 ([100, 0])
# to [1, 0] exactly in float32, so the probability mean [5/8, 3/8] is far from both the raw-score mean
# [50, log(3)/2] and the softmax of that mean (~[1, 0]). Sample 1 checks the reduction runs per sample.
LOGITS = np.array([[[0.0, LOG3], [100.0, 0.0]],
                   [[0.0, 0.0], [0.0, LOG3]]], np.float32)


def test_prob_averages_softmax_over_clips():
  out = np.asarray(layers.average_clips(jnp.asarray(LOGITS), 'prob'))
  assert out.shape == (2, 2)
  np.testing.assert_allclose(out, [[5 / 8, 3 / 8], [3 / 8, 5 / 8]], rtol=1e-6)
  np.testing.assert_allclose(out.sum(axis=-1), 1.0, rtol=1e-6)


def test_prob_is_the_default():
  np.testing.assert_array_equal(layers.average_clips(jnp.asarray(LOGITS)),
                                layers.average_clips(jnp.asarray(LOGITS), 'prob'))


def test_score_averages_raw_scores():
  out = np.asarray(layers.average_clips(jnp.asarray(LOGITS), 'score'))
  np.testing.assert_allclose(out, [[50.0, LOG3 / 2], [0.0, LOG3 / 2]], rtol=1e-6)


def test_none_returns_scores_unreduced():
  out = layers.average_clips(jnp.asarray(LOGITS), None)
  assert out.shape == LOGITS.shape
  np.testing.assert_array_equal(out, LOGITS)


def test_unknown_mode_is_refused():
  with pytest.raises(ValueError, match="'prob', 'score' or None, got 'max'"):
    layers.average_clips(jnp.asarray(LOGITS), 'max')
