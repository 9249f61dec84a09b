"""``layers.average_clips``: MMAction2's clip averaging, checked against values worked by hand; the training-mode
batch norm's hand-written gradient against autodiff of its formula."""

import math

import jax
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


def _plain_batch_norm(x, scale, bias, epsilon):
  """The formula, differentiated by JAX."""
  mean = jnp.mean(x, axis=(0, 1, 2))
  var = jnp.mean(jnp.square(x - mean), axis=(0, 1, 2))
  return (x - mean) * (jax.lax.rsqrt(var + epsilon) * scale) + bias, mean, var


def test_batch_norm_gradient_is_the_formulas_in_float64():
  rng = np.random.default_rng(0)
  x = rng.normal(size=(3, 4, 5, 6)) * 3 + 2  # a mean far from 0: the gradient is written in x, not x - mean
  scale, bias, weights = rng.normal(size=6), rng.normal(size=6), rng.normal(size=x.shape)

  def loss(norm):
    def value(x, scale, bias):
      y, mean, var = norm(x, scale, bias, 1e-5)
      # The statistics take part too, so their own cotangents are checked (running averages give them none).
      return jnp.sum(jnp.sin(y) * weights) + 0.3 * jnp.sum(mean) + jnp.sum(jnp.cos(var))
    return value

  with jax.enable_x64(True):
    args = tuple(jnp.asarray(a, jnp.float64) for a in (x, scale, bias))
    ours = jax.grad(loss(layers.batch_norm_train), argnums=(0, 1, 2))(*args)
    plain = jax.grad(loss(_plain_batch_norm), argnums=(0, 1, 2))(*args)
    forward = layers.batch_norm_train(*args, 1e-5)
    for a, b in zip(ours + forward, plain + _plain_batch_norm(*args, 1e-5)):
      np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-12, atol=1e-12)


def test_batch_norm_backward_keeps_only_its_input():
  """One activation-sized residual per norm (``x``): autodiff of the formula keeps ``x - mean`` twice more."""
  x = jnp.ones((2, 3, 4, 8))
  from jax._src.ad_checkpoint import saved_residuals  # pylint: disable=g-import-not-at-top

  def big(norm):
    residuals = saved_residuals(lambda x: jnp.sum(norm(x, jnp.ones(8), jnp.zeros(8), 1e-5)[0]), x)
    return [aval.shape for aval, _ in residuals if aval.shape == x.shape]

  assert len(big(layers.batch_norm_train)) == 1
  assert len(big(_plain_batch_norm)) > 1
