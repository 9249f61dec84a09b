"""What every transform shares: the base class, clear errors naming the sample, the rng contract.

A transform is a callable ``t(results: dict, rng: np.random.Generator | None = None) -> dict`` over an
MMAction2-style results dict (``keypoint [M, T, V, C]``, ``keypoint_score [M, T, V]``, ``total_frames``,
``frame_inds``, ``img_shape``, ``label``, ...). Random transforms draw only from ``rng`` (grain's
``random_map`` passes one per element), so a pipeline is a pure function of (sample, seed).
"""

from __future__ import annotations

from typing import Any

import numpy as np


class TransformError(ValueError):
  """A sample cannot go through a transform; the message names the sample and the reason."""


def describe(results: dict) -> str:
  """Short name of a sample for error messages (its ``frame_dir`` when known)."""
  name = results.get('frame_dir', results.get('filename'))
  return f'sample {name!r}' if name is not None else 'sample (no frame_dir)'


class Transform:
  """Base class: ``random`` tells the loader whether the op needs a per-element rng."""

  random = False

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    raise NotImplementedError

  def fail(self, results: dict, message: str) -> TransformError:
    """An error naming this transform, the sample, and what is wrong."""
    return TransformError(f'{type(self).__name__}: {describe(results)}: {message}')

  def require(self, results: dict, key: str) -> Any:
    """``results[key]``, or a clear error listing the keys that are there."""
    if key not in results:
      raise self.fail(results, f'needs key {key!r}; the results dict has {sorted(results)}')
    return results[key]

  def keypoint(self, results: dict, ndim: int = 4) -> np.ndarray:
    """``results['keypoint']`` as an array, checked to be ``[M, T, V, C]``."""
    kp = np.asarray(self.require(results, 'keypoint'))
    if kp.ndim != ndim:
      raise self.fail(results, f'keypoint must be [M, T, V, C], got shape {kp.shape}')
    return kp

  def need_rng(self, results: dict, rng: np.random.Generator | None) -> np.random.Generator:
    """The rng, or an error: silently falling back to global state would break determinism."""
    if rng is None:
      raise self.fail(results, 'is random and needs rng=np.random.Generator (use grain random_map)')
    return rng

  def __repr__(self) -> str:
    args = ', '.join(f'{k}={v!r}' for k, v in vars(self).items() if not k.startswith('_'))
    return f'{type(self).__name__}({args})'
