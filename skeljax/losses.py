"""Classification losses of MMAction2's skeleton recipes: softmax cross-entropy and class-balanced focal loss.

Both take raw class scores ``logits [N, C]`` and integer labels ``[N]`` and return a scalar, averaged over the
batch as MMAction2 does (``loss_weight`` 1).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import optax

LossFn = Callable[[jax.Array, jax.Array], jax.Array]


def cross_entropy(logits: jax.Array, labels: jax.Array) -> jax.Array:
  """Softmax cross-entropy of `[N, C]` logits against `[N]` integer labels, mean over the batch."""
  logits = logits.astype(jnp.float32)
  return optax.softmax_cross_entropy_with_integer_labels(logits, labels).mean()


def class_balanced_weights(samples_per_cls: Sequence[int], beta: float) -> np.ndarray:
  """Per-class weights (1 - beta) / (1 - beta^n_c), rescaled to sum to the number of classes (Cui et al. 2019)."""
  counts = np.asarray(samples_per_cls, np.float64)
  if counts.ndim != 1 or counts.size == 0 or np.any(counts < 0):
    raise ValueError(f'samples_per_cls must be a non-empty list of counts >= 0, got {samples_per_cls!r}')
  effective_num = 1.0 - np.power(beta, counts)
  weights = (1.0 - beta) / effective_num
  return (weights / weights.sum() * counts.size).astype(np.float32)


def cb_focal_loss(logits: jax.Array, labels: jax.Array, class_weights: jax.Array,
                  gamma: float = 2.0) -> jax.Array:
  """MMAction2 0.x ``CBFocalLoss``: sigmoid focal loss weighted by the label's class weight, / batch size.

  ``logits [N, C]``, ``labels [N]`` int, ``class_weights [C]`` from ``class_balanced_weights``.
  """
  logits = logits.astype(jnp.float32)
  num_classes = logits.shape[-1]
  one_hot = jax.nn.one_hot(labels, num_classes, dtype=jnp.float32)
  bce = optax.sigmoid_binary_cross_entropy(logits, one_hot)
  # (1 - p_t)^gamma in the reference's log-space form; softplus(-z) = log(1 + e^-z) without overflow for z << 0.
  if gamma == 0.0:
    modulator = jnp.ones_like(bce)
  else:
    modulator = jnp.exp(-gamma * one_hot * logits - gamma * jax.nn.softplus(-logits))
  alpha = jnp.asarray(class_weights, jnp.float32)[labels][:, None]
  return jnp.sum(alpha * modulator * bce) / jnp.sum(one_hot)


def get_loss_fn(cfg: Mapping) -> LossFn:
  """The loss named by a config's ``loss`` block (``cross_entropy`` or ``cb_focal``)."""
  name = cfg['name']
  if name == 'cross_entropy':
    return cross_entropy
  if name == 'cb_focal':
    weights = class_balanced_weights(cfg['samples_per_cls'], cfg.get('beta', 0.9999))
    gamma = float(cfg.get('gamma', 2.0))
    return lambda logits, labels: cb_focal_loss(logits, labels, weights, gamma)
  raise ValueError(f"unknown loss {name!r}; known: 'cross_entropy', 'cb_focal'")
