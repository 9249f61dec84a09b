"""`GeneratePoseTarget`: skeleton clip -> pseudo heatmap volume `[T, H, W, K]` (numpy, host side).

Same arithmetic as MMAction2's transform (1.2.0, and 0.24.1 with ``flip_style='0.x'``), vectorised over all
frames, channels and persons instead of one Python call per Gaussian:

- keypoint channel: ``s * exp(-((x - mu_x)^2 + (y - mu_y)^2) / 2 / sigma^2)`` in float32, drawn only inside
  the window ``[max(int(mu - 3 sigma), 0), min(int(mu + 3 sigma) + 1, size))`` on each axis;
- limb channel: ``min(s_a, s_b) * exp(-d^2 / 2 / sigma^2)`` with ``d`` the distance to the segment, inside
  the endpoints' bounding box +- 3 sigma; endpoints closer than 1 px fall back to a keypoint Gaussian at ``a``;
- items with value < ``eps`` are skipped; persons are merged with an element-wise max.

The window bounds are computed in float64 because MMAction2 ran on numpy 1.x, where ``np.float32 - float`` is
a float64 scalar; ``int()`` of the float32 difference would move the window by a pixel in rare cases.

Output is channel-last, `[T, H, W, K]` float32 (1.x returns `[T, K, H, W]`; 0.x returns `[T, H, W, K]`).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

COCO_LIMBS = ((0, 1), (0, 2), (1, 3), (2, 4), (0, 5), (5, 7), (7, 9), (0, 6), (6, 8), (8, 10), (5, 11),
              (11, 13), (13, 15), (6, 12), (12, 14), (14, 16), (11, 12))
COCO_LEFT_KP = (1, 3, 5, 7, 9, 11, 13, 15)
COCO_RIGHT_KP = (2, 4, 6, 8, 10, 12, 14, 16)
COCO_LEFT_LIMB = (0, 2, 4, 5, 6, 10, 11, 12)
COCO_RIGHT_LIMB = (1, 3, 7, 8, 9, 13, 14, 15)
FLIP_STYLES = ('1.x', '0.x')


def swap_permutation(num: int, left: Sequence[int], right: Sequence[int]) -> np.ndarray:
  """Index permutation `[num]` that exchanges each ``left[i]`` with ``right[i]``."""
  if len(left) != len(right):
    raise ValueError(f'left ({len(left)}) and right ({len(right)}) index lists differ in length')
  perm = np.arange(num)
  for a, b in zip(left, right):
    if not (0 <= a < num and 0 <= b < num):
      raise ValueError(f'left/right pair ({a}, {b}) outside [0, {num})')
    perm[a], perm[b] = b, a
  return perm


def flip_keypoints_0x(keypoint: np.ndarray, keypoint_score: np.ndarray | None, width: int,
                      left_kp: Sequence[int], right_kp: Sequence[int]):
  """0.x ``Flip(flip_ratio=1)`` on keypoints: ``x' = W - x`` for ``x != 0``, then swap left/right joints."""
  keypoint = keypoint.copy()
  x = keypoint[..., 0]
  x[x != 0] = width - x[x != 0]
  perm = swap_permutation(keypoint.shape[2], left_kp, right_kp)
  keypoint = keypoint[:, :, perm]
  if keypoint_score is not None:
    keypoint_score = keypoint_score[:, :, perm]
  return keypoint, keypoint_score


def _window(lo: np.ndarray, hi: np.ndarray, reach: float, size: int) -> tuple[np.ndarray, np.ndarray]:
  """``[max(int(lo - reach), 0), min(int(hi + reach) + 1, size))`` per item, as int64 in [0, size]."""
  lo64 = np.trunc(lo.astype(np.float64) - reach)
  hi64 = np.trunc(hi.astype(np.float64) + reach) + 1
  start = np.clip(lo64, 0, size).astype(np.int64)
  end = np.clip(hi64, 0, size).astype(np.int64)
  return start, end


def _draw_items(out: np.ndarray, t: np.ndarray, c: np.ndarray, window: tuple, value_fn, params: dict) -> None:
  """Max-merges item patches into out `[T, H, W, C]`; each (t, c) pair must occur at most once.

  Items are grouped by window size (powers of two) so that one long limb does not make every patch large;
  each group is evaluated in one array op with ``value_fn(xs [n, 1, Pw], ys [n, Ph, 1], **params[group])``.
  """
  height, width = out.shape[1:3]
  x0, x1, y0, y1 = window
  pw, ph = x1 - x0, y1 - y0
  drawn = (pw > 0) & (ph > 0)
  group = np.ceil(np.log2(np.maximum(np.maximum(pw, ph), 1))).astype(np.int64)
  for g in np.unique(group[drawn]):
    idx = np.flatnonzero(drawn & (group == g))
    size_w, size_h = int(pw[idx].max()), int(ph[idx].max())
    # Shift patches that would cross the right/bottom edge back inside; the mask keeps the true window.
    xs = np.minimum(x0[idx], width - size_w)[:, None] + np.arange(size_w)
    ys = np.minimum(y0[idx], height - size_h)[:, None] + np.arange(size_h)
    inside = (((ys >= y0[idx, None]) & (ys < y1[idx, None]))[:, :, None]
              & ((xs >= x0[idx, None]) & (xs < x1[idx, None]))[:, None, :])
    values = value_fn(xs.astype(np.float32)[:, None, :], ys.astype(np.float32)[:, :, None],
                      **{k: v[idx, None, None] for k, v in params.items()})
    ti, ci = t[idx, None, None], c[idx, None, None]
    yi, xi = ys[:, :, None], xs[:, None, :]
    out[ti, yi, xi, ci] = np.maximum(out[ti, yi, xi, ci], np.where(inside, values, np.float32(0)))


class GeneratePoseTarget:
  """MMAction2 ``GeneratePoseTarget``: adds ``imgs`` (or ``heatmap_imgs``) `[T(*2), H, W, K]` float32.

  Arguments are MMAction2's. ``with_kp`` and ``with_limb`` together give 17 + 17 channels (keypoints first,
  as in 0.x; 1.x writes limb i over keypoint channel i, a bug we do not copy). ``flip_style`` selects how
  ``double=True`` builds the flipped copy: ``'1.x'`` mirrors the maps (column j -> W-1-j) and swaps
  left/right channels; ``'0.x'`` flips the keypoints (``x' = W - x``) and renders them again.
  ``eps`` is MMAction2's 1e-4 (PySKL uses 1e-3).
  """

  def __init__(self, sigma: float = 0.6, use_score: bool = True, with_kp: bool = True,
               with_limb: bool = False, skeletons: Sequence[Sequence[int]] = COCO_LIMBS,
               double: bool = False, left_kp: Sequence[int] = COCO_LEFT_KP,
               right_kp: Sequence[int] = COCO_RIGHT_KP, left_limb: Sequence[int] = COCO_LEFT_LIMB,
               right_limb: Sequence[int] = COCO_RIGHT_LIMB, scaling: float = 1.0, flip_style: str = '1.x',
               eps: float = 1e-4):
    if not (with_kp or with_limb):
      raise ValueError('GeneratePoseTarget: at least one of with_kp and with_limb must be True')
    if sigma <= 0:
      raise ValueError(f'GeneratePoseTarget: sigma must be > 0, got {sigma}')
    if flip_style not in FLIP_STYLES:
      raise ValueError(f'GeneratePoseTarget: flip_style must be one of {FLIP_STYLES}, got {flip_style!r}')
    if scaling <= 0:
      raise ValueError(f'GeneratePoseTarget: scaling must be > 0, got {scaling}')
    self.sigma, self.use_score = float(sigma), bool(use_score)
    self.with_kp, self.with_limb = bool(with_kp), bool(with_limb)
    self.skeletons = tuple((int(a), int(b)) for a, b in skeletons)
    self.double, self.flip_style = bool(double), flip_style
    self.left_kp, self.right_kp = tuple(left_kp), tuple(right_kp)
    self.left_limb, self.right_limb = tuple(left_limb), tuple(right_limb)
    if len(self.left_kp) != len(self.right_kp) or len(self.left_limb) != len(self.right_limb):
      raise ValueError('GeneratePoseTarget: left_kp/right_kp and left_limb/right_limb must pair up')
    if with_limb and not self.skeletons:
      raise ValueError('GeneratePoseTarget: with_limb=True needs a non-empty skeletons list')
    self.scaling, self.eps = float(scaling), float(eps)

  def __repr__(self) -> str:
    return (f'GeneratePoseTarget(sigma={self.sigma}, use_score={self.use_score}, with_kp={self.with_kp}, '
            f'with_limb={self.with_limb}, double={self.double}, flip_style={self.flip_style!r}, '
            f'scaling={self.scaling})')

  # -- validation ---------------------------------------------------------------------------------------

  def _inputs(self, results: dict) -> tuple[np.ndarray, np.ndarray, int, int]:
    where = f"GeneratePoseTarget on {results.get('frame_dir', '<no frame_dir>')!r}"
    for key in ('keypoint', 'img_shape'):
      if key not in results:
        raise KeyError(f'{where}: results lack {key!r}')
    keypoint = np.asarray(results['keypoint'])
    if keypoint.ndim != 4 or keypoint.shape[-1] != 2:
      raise ValueError(f'{where}: keypoint must be [M, T, V, 2] (2D coordinates), got {keypoint.shape}')
    if 'keypoint_score' in results:
      score = np.asarray(results['keypoint_score'], dtype=np.float32)
      if score.shape != keypoint.shape[:-1]:
        raise ValueError(f'{where}: keypoint_score shape {score.shape} != keypoint shape[:-1] '
                         f'{keypoint.shape[:-1]}')
    else:
      score = np.ones(keypoint.shape[:-1], np.float32)
    if not self.use_score:
      score = np.ones_like(score)
    num_joint = keypoint.shape[2]
    if self.with_limb:
      bad = [s for s in self.skeletons if not (0 <= s[0] < num_joint and 0 <= s[1] < num_joint)]
      if bad:
        raise ValueError(f'{where}: skeleton limbs {bad} reference joints outside [0, {num_joint})')
    try:
      img_h, img_w = (int(v) for v in results['img_shape'])
    except (TypeError, ValueError) as e:
      raise ValueError(f"{where}: img_shape must be (h, w), got {results['img_shape']!r}") from e
    if img_h <= 0 or img_w <= 0:
      raise ValueError(f'{where}: img_shape must be positive, got {(img_h, img_w)}')
    drawn = score >= self.eps
    if not np.all(np.isfinite(keypoint[drawn])):
      m, t, v = np.argwhere(drawn & ~np.isfinite(keypoint).all(-1))[0]
      raise ValueError(f'{where}: non-finite keypoint at person {m}, frame {t}, joint {v} '
                       f'({keypoint[m, t, v].tolist()}) with score >= eps; clean it (e.g. PoseCompact) first')
    return keypoint, score, img_h, img_w

  # -- rendering ----------------------------------------------------------------------------------------

  def _gaussian(self, xs, ys, mu_x, mu_y, value):
    """Reference keypoint patch: float32 throughout."""
    d2 = (xs - mu_x) ** 2 + (ys - mu_y) ** 2
    return np.exp(-d2 / 2 / np.float32(self.sigma ** 2)) * value

  def _segment(self, xs, ys, ax, ay, bx, by, d2_ab, value):
    """Reference limb patch: float32 distances, float64 exponential (see `_limb_items`)."""
    d2_a = (xs - ax) ** 2 + (ys - ay) ** 2
    d2_b = (xs - bx) ** 2 + (ys - by) ** 2
    t = (d2_a - d2_b + d2_ab) / 2. / d2_ab
    d2_line = (xs - (ax + t * (bx - ax))) ** 2 + (ys - (ay + t * (by - ay))) ** 2
    d2_seg = np.where(t <= 0, d2_a, np.where(t >= 1, d2_b, d2_line))
    # The reference multiplies by an int64 mask here, which promotes the segment branch to float64.
    return (np.exp(-d2_seg.astype(np.float64) / 2. / self.sigma ** 2) * value).astype(np.float32)

  def _keypoint_items(self, out, kp, score, channel_offset):
    """Draws the keypoint Gaussians of kp `[M, T, V, 2]` into out `[T, H, W, C]` from channel_offset on."""
    num_frame, num_joint = kp.shape[1:3]
    height, width = out.shape[1:3]
    t, c = (a.ravel() for a in np.meshgrid(np.arange(num_frame), channel_offset + np.arange(num_joint),
                                           indexing='ij'))
    for m in range(kp.shape[0]):
      mu_x, mu_y, value = kp[m, ..., 0].ravel(), kp[m, ..., 1].ravel(), score[m].ravel()
      x0, x1 = _window(mu_x, mu_x, 3 * self.sigma, width)
      y0, y1 = _window(mu_y, mu_y, 3 * self.sigma, height)
      x1 = np.where(value >= self.eps, x1, x0)  # skipped: empty window
      _draw_items(out, t, c, (x0, x1, y0, y1), self._gaussian, dict(mu_x=mu_x, mu_y=mu_y, value=value))

  def _limb_items(self, out, kp, score, channel_offset):
    """Draws the limb heatmaps of ``self.skeletons`` into out `[T, H, W, C]` from channel_offset on."""
    num_frame, num_limb = kp.shape[1], len(self.skeletons)
    height, width = out.shape[1:3]
    ia = np.array([a for a, _ in self.skeletons])
    ib = np.array([b for _, b in self.skeletons])
    t, c = (a.ravel() for a in np.meshgrid(np.arange(num_frame), channel_offset + np.arange(num_limb),
                                           indexing='ij'))
    for m in range(kp.shape[0]):
      a, b = kp[m][:, ia].reshape(-1, 2), kp[m][:, ib].reshape(-1, 2)
      sa, sb = score[m][:, ia].ravel(), score[m][:, ib].ravel()
      value = np.minimum(sa, sb)
      # numpy 1.x promoted `np.float32 ** 2` (a scalar with a Python int) to float64, so the reference's
      # limb length is float64, compared with 1 in float64 and rounded to float32 where it meets arrays.
      d2_ab = (a[:, 0] - b[:, 0]).astype(np.float64) ** 2 + (a[:, 1] - b[:, 1]).astype(np.float64) ** 2
      point = d2_ab < 1
      lo, hi = np.minimum(a, b), np.maximum(a, b)
      x0, x1 = _window(lo[:, 0], hi[:, 0], 3 * self.sigma, width)
      y0, y1 = _window(lo[:, 1], hi[:, 1], 3 * self.sigma, height)
      x1 = np.where((value >= self.eps) & ~point, x1, x0)
      _draw_items(out, t, c, (x0, x1, y0, y1), self._segment,
                  dict(ax=a[:, 0], ay=a[:, 1], bx=b[:, 0], by=b[:, 1], d2_ab=d2_ab.astype(np.float32),
                       value=value))
      # Endpoints closer than 1 px: a keypoint Gaussian at `a` with a's window and a's own value.
      x0, x1 = _window(a[:, 0], a[:, 0], 3 * self.sigma, width)
      y0, y1 = _window(a[:, 1], a[:, 1], 3 * self.sigma, height)
      x1 = np.where((value >= self.eps) & point, x1, x0)
      _draw_items(out, t, c, (x0, x1, y0, y1), self._gaussian, dict(mu_x=a[:, 0], mu_y=a[:, 1], value=sa))

  def render(self, keypoint: np.ndarray, score: np.ndarray, img_h: int, img_w: int) -> np.ndarray:
    """Heatmaps `[T, H, W, K]` float32 for keypoint `[M, T, V, 2]` and (already use_score-resolved) score."""
    # Coordinates of skipped items (score < eps) may be NaN; they are never drawn.
    kp = np.where(np.isfinite(keypoint), keypoint, 0).astype(np.float32)
    if self.scaling != 1.0:
      img_h, img_w = int(img_h * self.scaling + 0.5), int(img_w * self.scaling + 0.5)
      kp = kp * np.float32(self.scaling)
    num_joint = kp.shape[2]
    num_channel = num_joint * self.with_kp + len(self.skeletons) * self.with_limb
    out = np.zeros((kp.shape[1], img_h, img_w, num_channel), np.float32)
    if self.with_kp:
      self._keypoint_items(out, kp, score, 0)
    if self.with_limb:
      self._limb_items(out, kp, score, num_joint * self.with_kp)
    return out

  def _channel_swap(self, num_joint: int) -> np.ndarray:
    perms = []
    if self.with_kp:
      perms.append(swap_permutation(num_joint, self.left_kp, self.right_kp))
    if self.with_limb:
      offset = num_joint if self.with_kp else 0
      perms.append(offset + swap_permutation(len(self.skeletons), self.left_limb, self.right_limb))
    return np.concatenate(perms)

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    """Adds the heatmap volume `[T(*2), H, W, K]` under ``imgs`` (``heatmap_imgs`` if ``imgs`` exists)."""
    del rng  # deterministic
    keypoint, score, img_h, img_w = self._inputs(results)
    heatmap = self.render(keypoint, score, img_h, img_w)
    if self.double:
      if self.flip_style == '1.x':
        flipped = heatmap[:, :, ::-1][..., self._channel_swap(keypoint.shape[2])]
      else:
        flip_kp, flip_score = flip_keypoints_0x(keypoint, score, img_w, self.left_kp, self.right_kp)
        flipped = self.render(flip_kp, flip_score, img_h, img_w)
      heatmap = np.concatenate([heatmap, flipped])
    results['heatmap_imgs' if 'imgs' in results else 'imgs'] = heatmap
    return results
