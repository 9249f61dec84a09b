"""Keypoint geometry for PoseC3D: ``PoseCompact``, ``Resize``, ``RandomResizedCrop``, ``CenterCrop``,
``Flip``. They move coordinates and update ``img_shape`` (h, w); no image is ever touched, because the
heatmaps are rendered afterwards from the transformed keypoints.

Scalar arithmetic follows the reference as it ran under NumPy 1.x, where a float32 scalar combined
with a Python number gave float64 (NumPy 2 keeps float32, NEP 50): box sizes are therefore converted
to Python floats at the points where the reference promoted them, so integer truncations land on the
same pixel.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from skeljax.data.transforms_common import Transform


def _pair(value) -> tuple:
  return tuple(value) if isinstance(value, (tuple, list)) else (value, value)


def _combine_quadruple(old, new) -> tuple:
  """Compose two (x, y, w, h) crop fractions: ``new`` is relative to ``old``."""
  return (old[0] + old[2] * new[0], old[1] + old[3] * new[1], old[2] * new[2], old[3] * new[3])


def rescale_size(width: int, height: int, scale) -> tuple[int, int]:
  """mmcv ``rescale_size``: (w, h) scaled by a factor, or as large as fits in (long, short) edges."""
  if isinstance(scale, tuple):
    factor = min(max(scale) / max(height, width), min(scale) / min(height, width))
  else:
    factor = float(scale)
  return int(width * factor + 0.5), int(height * factor + 0.5)


class _KeypointGeometry(Transform):
  """Shared checks: keypoints only (no images), ``img_shape`` present."""

  def image_shape(self, results) -> tuple[int, int]:
    if 'imgs' in results:
      raise self.fail(results, 'skeljax transforms move keypoints only; place it before GeneratePoseTarget')
    h, w = (int(v) for v in self.require(results, 'img_shape'))
    return h, w

  def update_quadruple(self, results, box, h, w) -> None:
    """Record the crop as a fraction of the original frame (the reference's float32 array)."""
    left, top, right, bottom = box
    old = results.get('crop_quadruple', np.array([0, 0, 1, 1], dtype=np.float32))
    new = (left / w, top / h, (right - left) / w, (bottom - top) / h)
    results['crop_quadruple'] = np.array(_combine_quadruple(old, new), dtype=np.float32)

  def crop(self, results, box) -> dict:
    """Crop to ``box = (left, top, right, bottom)``: every coordinate, zeros included, shifts."""
    h, w = self.image_shape(results)
    left, top, right, bottom = (int(v) for v in box)
    self.update_quadruple(results, (left, top, right, bottom), h, w)
    results['crop_bbox'] = np.array([left, top, right, bottom])
    results['img_shape'] = (bottom - top, right - left)
    if 'keypoint' in results:
      kp = np.array(results['keypoint'], dtype=np.float32)
      kp[..., 0] -= left
      kp[..., 1] -= top
      results['keypoint'] = kp
    return results


class PoseCompact(_KeypointGeometry):
  """MMAction2 ``PoseCompact``: crop to the padded box around all non-zero keypoints.

  The tight box over every person and frame is grown by ``padding`` around its centre, widened to
  ``hw_ratio`` if given, truncated to ints (and clipped to the frame unless ``allow_imgpad``);
  non-zero coordinates are shifted, ``img_shape`` becomes the box size. Does nothing when the box is
  narrower than ``threshold`` pixels. NaN coordinates become 0.
  """

  def __init__(self, padding: float = 0.25, threshold: int = 10,
               hw_ratio: float | Sequence[float] | None = None, allow_imgpad: bool = True):
    if padding < 0:
      raise ValueError(f'PoseCompact: padding must be >= 0, got {padding}')
    self.padding = padding
    self.threshold = threshold
    self.hw_ratio = None if hw_ratio is None else tuple(float(r) for r in _pair(hw_ratio))
    self.allow_imgpad = allow_imgpad

  def __call__(self, results, rng=None):
    h, w = self.image_shape(results)
    kp = np.array(self.keypoint(results))  # a copy: the input is never modified
    kp[np.isnan(kp)] = 0.
    kp_x, kp_y = kp[..., 0], kp[..., 1]
    min_x = np.min(kp_x[kp_x != 0], initial=np.inf)
    min_y = np.min(kp_y[kp_y != 0], initial=np.inf)
    max_x = np.max(kp_x[kp_x != 0], initial=-np.inf)
    max_y = np.max(kp_y[kp_y != 0], initial=-np.inf)
    results['keypoint'] = kp
    if max_x - min_x < self.threshold or max_y - min_y < self.threshold:
      return results

    # Sums and differences in the keypoints' dtype, the rest in float64 (see module docstring).
    center_x, center_y = float(max_x + min_x) / 2, float(max_y + min_y) / 2
    half_w = float(max_x - min_x) / 2 * (1 + self.padding)
    half_h = float(max_y - min_y) / 2 * (1 + self.padding)
    if self.hw_ratio is not None:
      half_h = max(self.hw_ratio[0] * half_w, half_h)
      half_w = max(1 / self.hw_ratio[1] * half_h, half_w)
    left, right = center_x - half_w, center_x + half_w
    top, bottom = center_y - half_h, center_y + half_h
    if self.allow_imgpad:
      left, top, right, bottom = int(left), int(top), int(right), int(bottom)
    else:
      left, top = int(max(0, left)), int(max(0, top))
      right, bottom = int(min(w, right)), int(min(h, bottom))

    kp_x[kp_x != 0] -= left
    kp_y[kp_y != 0] -= top
    results['img_shape'] = (bottom - top, right - left)
    old = results.get('crop_quadruple', (0., 0., 1., 1.))
    new = (left / w, top / h, (right - left) / w, (bottom - top) / h)
    results['crop_quadruple'] = _combine_quadruple(old, new)
    return results


class Resize(_KeypointGeometry):
  """MMAction2 ``Resize`` of keypoints: ``scale`` is a factor, a (long, short) edge bound
  (``(-1, 64)``: short side -> 64, keeping the ratio), or with ``keep_ratio=False`` the output (w, h)."""

  def __init__(self, scale, keep_ratio: bool = True, interpolation: str = 'bilinear', lazy: bool = False):
    if isinstance(scale, (int, float)) and not isinstance(scale, bool):
      if scale <= 0:
        raise ValueError(f'Resize: invalid scale {scale}, must be positive')
      scale = float(scale)
    elif isinstance(scale, (tuple, list)) and len(scale) == 2:
      scale = tuple(scale)
      if min(scale) == -1:
        scale = (math.inf, max(scale))  # the long edge is free; only the short edge binds
    else:
      raise TypeError(f'Resize: scale must be a number or a pair, got {scale!r}')
    if not keep_ratio and not isinstance(scale, tuple):
      raise TypeError('Resize: keep_ratio=False needs scale=(w, h)')
    if lazy:
      raise ValueError('Resize: lazy mode applies to images; skeljax resizes keypoints only')
    self.scale = scale
    self.keep_ratio = keep_ratio
    self.interpolation = interpolation

  def __call__(self, results, rng=None):
    h, w = self.image_shape(results)
    if self.keep_ratio:
      new_w, new_h = rescale_size(w, h, self.scale)
    else:
      new_w, new_h = (int(v) for v in self.scale)
    factor = np.array([new_w / w, new_h / h], dtype=np.float32)
    results['img_shape'] = (new_h, new_w)
    results['keep_ratio'] = self.keep_ratio
    results['scale_factor'] = results.get('scale_factor', np.ones(2, dtype=np.float32)) * factor
    if 'keypoint' in results:
      kp = np.array(results['keypoint'], dtype=np.float32)
      kp[..., :2] *= factor
      results['keypoint'] = kp
    return results


class RandomResizedCrop(_KeypointGeometry):
  """MMAction2 ``RandomResizedCrop`` of keypoints: a box with area fraction in ``area_range`` and
  log-uniform aspect ratio in ``aspect_ratio_range`` (10 attempts, then the centre square).

  The resize half is a separate ``Resize`` in the configs. Draws come from ``rng``; the reference
  used NumPy's and Python's global generators, so individual boxes differ, the distribution does not.
  """

  random = True

  def __init__(self, area_range: Sequence[float] = (0.08, 1.0),
               aspect_ratio_range: Sequence[float] = (3 / 4, 4 / 3), lazy: bool = False):
    self.area_range = tuple(float(a) for a in area_range)
    self.aspect_ratio_range = tuple(float(a) for a in aspect_ratio_range)
    if not 0 < self.area_range[0] <= self.area_range[1] <= 1:
      raise ValueError(f'RandomResizedCrop: area_range must satisfy 0 < lo <= hi <= 1, got {area_range}')
    if not 0 < self.aspect_ratio_range[0] <= self.aspect_ratio_range[1]:
      raise ValueError(f'RandomResizedCrop: bad aspect_ratio_range {aspect_ratio_range}')
    if lazy:
      raise ValueError('RandomResizedCrop: lazy mode applies to images; skeljax crops keypoints only')

  @staticmethod
  def get_crop_bbox(img_shape: tuple[int, int], area_range, aspect_ratio_range,
                    rng: np.random.Generator, max_attempts: int = 10) -> tuple[int, int, int, int]:
    """(left, top, right, bottom) of a random box, as the reference draws it."""
    img_h, img_w = img_shape
    area = img_h * img_w
    low, high = aspect_ratio_range
    aspect_ratios = np.exp(rng.uniform(np.log(low), np.log(high), size=max_attempts))
    target_areas = rng.uniform(*area_range, size=max_attempts) * area
    crop_ws = np.round(np.sqrt(target_areas * aspect_ratios)).astype(np.int32)
    crop_hs = np.round(np.sqrt(target_areas / aspect_ratios)).astype(np.int32)
    for crop_w, crop_h in zip(crop_ws, crop_hs):
      if crop_h <= img_h and crop_w <= img_w:
        left = int(rng.integers(0, img_w - crop_w + 1))  # inclusive bounds, like random.randint
        top = int(rng.integers(0, img_h - crop_h + 1))
        return left, top, left + int(crop_w), top + int(crop_h)
    size = min(img_h, img_w)
    left, top = (img_w - size) // 2, (img_h - size) // 2
    return left, top, left + size, top + size

  def __call__(self, results, rng=None):
    rng = self.need_rng(results, rng)
    box = self.get_crop_bbox(self.image_shape(results), self.area_range, self.aspect_ratio_range, rng)
    return self.crop(results, box)


class CenterCrop(_KeypointGeometry):
  """MMAction2 ``CenterCrop`` of keypoints to ``crop_size`` (int, or (w, h))."""

  def __init__(self, crop_size: int | Sequence[int], lazy: bool = False):
    self.crop_size = tuple(int(c) for c in _pair(crop_size))
    if lazy:
      raise ValueError('CenterCrop: lazy mode applies to images; skeljax crops keypoints only')

  def __call__(self, results, rng=None):
    h, w = self.image_shape(results)
    crop_w, crop_h = self.crop_size
    left, top = (w - crop_w) // 2, (h - crop_h) // 2
    return self.crop(results, (left, top, left + crop_w, top + crop_h))


class Flip(_KeypointGeometry):
  """MMAction2 ``Flip`` (horizontal) of keypoints with probability ``flip_ratio``.

  Non-zero x become ``W - x`` (not ``W - 1 - x``: the reference's convention, which the heatmap
  renderer inherits); ``left_kp``/``right_kp`` joints swap in ``keypoint`` and ``keypoint_score``.
  Sets ``flip``; ``flip_label_map`` relabels flipped samples.
  """

  random = True

  def __init__(self, flip_ratio: float = 0.5, direction: str = 'horizontal', flip_label_map=None,
               left_kp: Sequence[int] | None = None, right_kp: Sequence[int] | None = None,
               lazy: bool = False):
    if direction != 'horizontal':
      raise ValueError(f'Flip: only horizontal flips are defined for keypoints, got {direction!r}')
    if (left_kp is None) != (right_kp is None) or (left_kp is not None and len(left_kp) != len(right_kp)):
      raise ValueError('Flip: left_kp and right_kp must be given together, with equal lengths')
    if lazy:
      raise ValueError('Flip: lazy mode applies to images; skeljax flips keypoints only')
    self.flip_ratio = float(flip_ratio)
    self.direction = direction
    self.flip_label_map = dict(flip_label_map) if flip_label_map else None
    self.left_kp = None if left_kp is None else tuple(left_kp)
    self.right_kp = None if right_kp is None else tuple(right_kp)
    self.random = 0 < self.flip_ratio < 1

  def joint_order(self, num_joint: int) -> np.ndarray:
    """Permutation of the joint axis that swaps left and right joints."""
    order = np.arange(num_joint)
    for left, right in zip(self.left_kp or (), self.right_kp or ()):
      order[left], order[right] = right, left
    return order

  def __call__(self, results, rng=None):
    _, w = self.image_shape(results)
    if self.flip_ratio >= 1 or self.flip_ratio <= 0:
      flip = self.flip_ratio >= 1
    else:
      flip = bool(self.need_rng(results, rng).random() < self.flip_ratio)
    results['flip'] = flip
    results['flip_direction'] = self.direction
    if not flip:
      return results
    if self.flip_label_map is not None and 'label' in results:
      results['label'] = self.flip_label_map.get(results['label'], results['label'])
    if 'keypoint' in results:
      kp = np.array(self.keypoint(results))
      x = kp[..., 0]
      x[x != 0] = w - x[x != 0]
      order = self.joint_order(kp.shape[2])
      results['keypoint'] = kp[:, :, order]
      if 'keypoint_score' in results:
        results['keypoint_score'] = np.asarray(results['keypoint_score'])[:, :, order]
    return results
