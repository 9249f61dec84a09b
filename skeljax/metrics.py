"""Accuracy metrics with MMAction2's semantics (``mmaction/evaluation/functional/accuracy.py``).

Host-side numpy over the whole evaluation set: ``scores [N, C]`` (any monotone score: logits or
probabilities) and integer ``labels [N]``.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np


def _check(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
  scores, labels = np.asarray(scores), np.asarray(labels).reshape(-1)
  if scores.ndim != 2 or scores.shape[0] != labels.shape[0]:
    raise ValueError(f'scores must be [N, C] and labels [N]; got {scores.shape} and {labels.shape}')
  if scores.shape[0] == 0:
    raise ValueError('cannot compute accuracy over zero samples')
  return scores, labels.astype(np.int64)


def top_k_accuracy(scores: np.ndarray, labels: np.ndarray, topk: Sequence[int] = (1, 5)) -> list[float]:
  """Fraction of samples whose label is among the k highest scores, for each k in ``topk``."""
  scores, labels = _check(scores, labels)
  # argsort (not argpartition) so that ties are broken the way MMAction2 breaks them.
  order = np.argsort(scores, axis=1)
  results = []
  for k in topk:
    top = order[:, -k:][:, ::-1]
    results.append(float(np.any(top == labels[:, None], axis=1).mean()))
  return results


def mean_class_accuracy(scores: np.ndarray, labels: np.ndarray) -> float:
  """Mean per-class top-1 recall over the union of predicted and true labels (predicted-only classes count 0)."""
  scores, labels = _check(scores, labels)
  preds = np.argmax(scores, axis=1)
  classes = np.unique(np.concatenate([preds, labels]))
  per_class = []
  for c in classes:
    is_c = labels == c
    count = int(is_c.sum())
    per_class.append(float((preds[is_c] == c).sum()) / count if count else 0.0)
  return float(np.mean(per_class))


def evaluate_scores(scores: np.ndarray, labels: np.ndarray, topk: Sequence[int] = (1, 5)) -> dict[str, float]:
  """``{'top1': .., 'top5': .., 'mean_class_accuracy': ..}`` for `[N, C]` scores, as MMAction2's AccMetric."""
  scores, labels = _check(scores, labels)
  topk = [k for k in topk if k <= scores.shape[1]]
  out = {f'top{k}': acc for k, acc in zip(topk, top_k_accuracy(scores, labels, topk))}
  out['mean_class_accuracy'] = mean_class_accuracy(scores, labels)
  return out


def batch_topk_correct(logits: jax.Array, labels: jax.Array, k: int) -> jax.Array:
  """Per-sample 0/1 hits `[N]` of the label among the top-k `[N, C]` logits (in-step training metric)."""
  k = min(k, logits.shape[-1])
  _, top = jax.lax.top_k(logits, k)
  return jnp.any(top == labels[:, None], axis=-1).astype(jnp.float32)
