"""Heatmap volumes rendered on the device: the math of `skeljax.data.heatmap.GeneratePoseTarget` in jnp.

Every item (person x frame x channel) is evaluated on the full H x W grid and masked to the reference's
window ``[max(int(lo - 3 sigma), 0), min(int(hi + 3 sigma) + 1, size))``; persons are merged with a running
max in a loop over the person axis, so nothing of size ``[M, T, H, W, K]`` is kept alive.

Exactness: the window masks reproduce the reference's truncation bit for bit. The reference computes
``int(mu - 3 sigma)`` in float64 from a float32 ``mu`` (numpy 1.x promotion); we precompute, per pixel, the
float32 threshold at which ``mu`` enters or leaves the window, so the masks are float32 comparisons that agree
with the float64 arithmetic for every float32 input. Values agree to float32 rounding (< 1e-6): keypoint
Gaussians use the separable product ``exp(-dx^2/2s^2) * exp(-dy^2/2s^2)`` (H + W exponentials per item, not
H * W), and limb maps use a float32 exponential where the reference uses float64. The limb distance is
cancellation-prone, so it reproduces numpy's roundings step by step: the float64 limb length (`_limb_length2`),
no fused multiply-adds (`_mul`) and no division turned into a reciprocal multiply.

Inputs are in the output pixel frame (apply MMAction2's ``scaling`` to coordinates and size beforehand).
"""

from __future__ import annotations

import functools
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from skeljax.data.heatmap import (COCO_LEFT_KP, COCO_LEFT_LIMB, COCO_LIMBS, COCO_RIGHT_KP, COCO_RIGHT_LIMB,
                                  FLIP_STYLES, swap_permutation)


def _smallest_float32(predicate, guess: float) -> np.float32:
  """Smallest float32 m with predicate(m), for a predicate monotone in m and true near ``guess``."""
  m = np.float32(guess)
  lower = np.nextafter(m, np.float32(-np.inf))
  while predicate(lower):
    m, lower = lower, np.nextafter(lower, np.float32(-np.inf))
  while not predicate(m):
    m = np.nextafter(m, np.float32(np.inf))
  return m


@functools.lru_cache(maxsize=64)
def window_thresholds(size: int, reach: float) -> tuple[np.ndarray, np.ndarray]:
  """Float32 thresholds `[size]`: pixel p is in the window of (lo, hi) iff lo < enter[p] and hi >= leave[p].

  Reference window: ``p >= max(int(lo - reach), 0)`` and ``p < min(int(hi + reach) + 1, size)``, with the
  differences taken in float64. For p >= 0 the first is ``float64(lo - reach) < p + 1`` and the second is
  ``float64(hi + reach) >= p`` (``> -1`` at p = 0); both are monotone in the float32 coordinate.
  """
  enter = np.empty(size, np.float32)
  leave = np.empty(size, np.float32)
  for p in range(size):
    enter[p] = _smallest_float32(lambda m, p=p: np.float64(m) - reach >= p + 1, p + 1 + reach)
    if p == 0:
      leave[p] = _smallest_float32(lambda m: np.float64(m) + reach > -1, -1 - reach)
    else:
      leave[p] = _smallest_float32(lambda m, p=p: np.float64(m) + reach >= p, p - reach)
  enter.setflags(write=False)  # cached: shared by every caller
  leave.setflags(write=False)
  return enter, leave


def _axis_mask(lo: jax.Array, hi: jax.Array, size: int, reach: float, axis_shape: tuple) -> jax.Array:
  """Window mask along one image axis; lo/hi `[..., 1, 1, K]`-broadcastable, grid laid out by axis_shape."""
  enter, leave = window_thresholds(size, reach)
  return (lo < jnp.asarray(enter).reshape(axis_shape)) & (hi >= jnp.asarray(leave).reshape(axis_shape))


def _mul(a: jax.Array, b: jax.Array) -> jax.Array:
  """a * b rounded on its own, as numpy does.

  XLA (CPU and GPU) contracts ``x + a * b`` into a fused multiply-add, which skips a rounding. In the limb
  distance that changes the cancellation-prone projection ``x - (ax + t (bx - ax))`` by an ulp of the
  coordinate and the heatmap by up to 1e-5. A select between the product and the add blocks the fusion;
  ``a == a`` is false only for NaN, where both branches give NaN anyway.
  """
  return jnp.where(a == a, a * b, a)


def _sq(a: jax.Array) -> jax.Array:
  return _mul(a, a)


def _two_square(x: jax.Array) -> tuple[jax.Array, jax.Array]:
  """x^2 as an unevaluated float32 sum hi + lo, exactly (Dekker's split; no FMA, see `_mul`)."""
  c = _mul(jnp.float32(4097.0), x)
  x_hi = c - (c - x)
  x_lo = x - x_hi
  hi = _sq(x)
  lo = _sq(x_lo) - (((hi - _sq(x_hi)) - _mul(x_hi, x_lo)) - _mul(x_lo, x_hi))
  return hi, lo


def _limb_length2(dx: jax.Array, dy: jax.Array) -> tuple[jax.Array, jax.Array]:
  """dx^2 + dy^2 rounded to float32 once, and whether it is < 1, as the reference's float64 gives them.

  numpy 1.x evaluated the reference's ``(a_x - b_x)**2 + (a_y - b_y)**2`` in float64 (scalar with a Python
  int). Its float32 rounding feeds the projection parameter, where one ulp moves the heatmap by ~1e-5.
  """
  hx, lx = _two_square(dx)
  hy, ly = _two_square(dy)
  total = hx + hy
  # Knuth's TwoSum: the rounding error of hx + hy, exactly.
  hy_virtual = total - hx
  err = (hx - (total - hy_virtual)) + (hy - hy_virtual)
  low = err + lx + ly
  length2 = total + low
  below_one = (total < 1) | ((total == 1) & (low < 0))
  return length2, below_one


def _resolve_score(keypoint: jax.Array, score: jax.Array | None, use_score: bool) -> jax.Array:
  if score is None or not use_score:
    return jnp.ones(keypoint.shape[:-1], jnp.float32)
  if score.shape != keypoint.shape[:-1]:
    raise ValueError(f'score shape {score.shape} != keypoint shape[:-1] {keypoint.shape[:-1]}')
  return score.astype(jnp.float32)


def _check_keypoint(keypoint: jax.Array) -> None:
  if keypoint.ndim != 4 or keypoint.shape[-1] != 2:
    raise ValueError(f'keypoint must be [M, T, V, 2] (2D coordinates), got {keypoint.shape}')


def render_keypoint_heatmaps(keypoint: jax.Array, score: jax.Array | None, *, height: int, width: int,
                             sigma: float = 0.6, use_score: bool = True, eps: float = 1e-4) -> jax.Array:
  """Keypoint heatmaps `[T, H, W, V]` float32 from keypoint `[M, T, V, 2]` and score `[M, T, V]`."""
  _check_keypoint(keypoint)
  keypoint = keypoint.astype(jnp.float32)
  score = _resolve_score(keypoint, score, use_score)
  reach = 3 * sigma
  inv = jnp.float32(sigma ** 2)
  xs = jnp.arange(width, dtype=jnp.float32).reshape(1, 1, width, 1)
  ys = jnp.arange(height, dtype=jnp.float32).reshape(1, height, 1, 1)
  out = jnp.zeros((keypoint.shape[1], height, width, keypoint.shape[2]), jnp.float32)
  for m in range(keypoint.shape[0]):
    mu_x = keypoint[m, :, None, None, :, 0]  # [T, 1, 1, V]
    mu_y = keypoint[m, :, None, None, :, 1]
    value = jnp.where(score[m] >= eps, score[m], 0.0)[:, None, None, :]
    gx = jnp.where(_axis_mask(mu_x, mu_x, width, reach, xs.shape), jnp.exp(-(xs - mu_x) ** 2 / 2 / inv), 0.0)
    gy = jnp.where(_axis_mask(mu_y, mu_y, height, reach, ys.shape), jnp.exp(-(ys - mu_y) ** 2 / 2 / inv), 0.0)
    out = jnp.maximum(out, gy * gx * value)
  return out


def render_limb_heatmaps(keypoint: jax.Array, score: jax.Array | None, *, height: int, width: int,
                         skeletons: Sequence[Sequence[int]] = COCO_LIMBS, sigma: float = 0.6,
                         use_score: bool = True, eps: float = 1e-4) -> jax.Array:
  """Limb heatmaps `[T, H, W, L]` float32 (segment distance) for the (a, b) joint pairs in skeletons."""
  _check_keypoint(keypoint)
  num_joint = keypoint.shape[2]
  bad = [s for s in skeletons if not (0 <= s[0] < num_joint and 0 <= s[1] < num_joint)]
  if bad:
    raise ValueError(f'skeleton limbs {bad} reference joints outside [0, {num_joint})')
  keypoint = keypoint.astype(jnp.float32)
  score = _resolve_score(keypoint, score, use_score)
  reach = 3 * sigma
  inv = jnp.float32(sigma ** 2)
  ia = np.array([a for a, _ in skeletons])
  ib = np.array([b for _, b in skeletons])
  xs = jnp.arange(width, dtype=jnp.float32).reshape(1, 1, width, 1)
  ys = jnp.arange(height, dtype=jnp.float32).reshape(1, height, 1, 1)
  out = jnp.zeros((keypoint.shape[1], height, width, len(skeletons)), jnp.float32)

  def person(m, out):
    a = keypoint[m][:, ia][:, None, None]  # [T, 1, 1, L, 2]
    b = keypoint[m][:, ib][:, None, None]
    sa, sb = score[m][:, ia][:, None, None], score[m][:, ib][:, None, None]
    ax, ay, bx, by = a[..., 0], a[..., 1], b[..., 0], b[..., 1]
    d2_ab, point = _limb_length2(ax - bx, ay - by)
    # point: endpoints closer than 1 px, drawn as a keypoint Gaussian at `a` with a's window and score.
    safe_ab = jnp.where(point, 1.0, d2_ab)
    d2_a = _sq(xs - ax) + _sq(ys - ay)
    d2_b = _sq(xs - bx) + _sq(ys - by)
    # A full-grid divisor: XLA rewrites division by a broadcast into a reciprocal multiply (1 ulp off).
    t = (d2_a - d2_b + safe_ab) / 2. / jnp.where(d2_a == d2_a, safe_ab, 1.0)
    d2_line = _sq(xs - (ax + _mul(t, bx - ax))) + _sq(ys - (ay + _mul(t, by - ay)))
    d2 = jnp.where(point | (t <= 0), d2_a, jnp.where(t >= 1, d2_b, d2_line))
    lo_x = jnp.where(point, ax, jnp.minimum(ax, bx))
    hi_x = jnp.where(point, ax, jnp.maximum(ax, bx))
    lo_y = jnp.where(point, ay, jnp.minimum(ay, by))
    hi_y = jnp.where(point, ay, jnp.maximum(ay, by))
    inside = _axis_mask(lo_x, hi_x, width, reach, xs.shape) & _axis_mask(lo_y, hi_y, height, reach, ys.shape)
    coeff = jnp.minimum(sa, sb)
    value = jnp.where(coeff >= eps, jnp.where(point, sa, coeff), 0.0)
    return jnp.maximum(out, jnp.where(inside, jnp.exp(-d2 / 2 / inv) * value, 0.0))

  # A loop, not an unrolled sum: XLA would keep every person's full-grid map alive at once.
  return jax.lax.fori_loop(0, keypoint.shape[0], person, out)


def _flip_keypoints_0x(keypoint: jax.Array, score: jax.Array, width: int, perm: np.ndarray):
  """0.x Flip on keypoint `[..., V, 2]`: x' = W - x where x != 0, then left/right joints swapped."""
  x = keypoint[..., 0]
  keypoint = keypoint.at[..., 0].set(jnp.where(x != 0, width - x, x))
  return keypoint[..., perm, :], score[..., perm]


@functools.partial(jax.jit, static_argnames=('height', 'width', 'sigma', 'use_score', 'with_kp', 'with_limb',
                                             'skeletons', 'double', 'kp_perm', 'limb_perm', 'flip_style',
                                             'eps', 'dtype'))
def _generate(batch_keypoint, batch_score, *, height, width, sigma, use_score, with_kp, with_limb, skeletons,
              double, kp_perm, limb_perm, flip_style, eps, dtype):
  lead = batch_keypoint.shape[:2]
  keypoint = batch_keypoint.reshape((-1,) + batch_keypoint.shape[2:]).astype(jnp.float32)
  score = batch_score.reshape((-1,) + batch_score.shape[2:]).astype(jnp.float32)

  def render(kp, sc):
    maps = []
    if with_kp:
      maps.append(render_keypoint_heatmaps(kp, sc, height=height, width=width, sigma=sigma,
                                           use_score=use_score, eps=eps))
    if with_limb:
      maps.append(render_limb_heatmaps(kp, sc, height=height, width=width, skeletons=skeletons, sigma=sigma,
                                       use_score=use_score, eps=eps))
    return jnp.concatenate(maps, axis=-1) if len(maps) > 1 else maps[0]

  volume = jax.vmap(render)(keypoint, score)  # [N * nc, T, H, W, K]
  volume = volume.reshape(lead + volume.shape[1:])
  if double:
    if flip_style == '1.x':
      perm = np.concatenate(([np.array(kp_perm)] if with_kp else [])
                            + ([np.array(limb_perm) + len(kp_perm) * with_kp] if with_limb else []))
      flipped = volume[..., ::-1, :][..., perm]
    else:
      flip_kp, flip_score = _flip_keypoints_0x(keypoint, score, width, np.array(kp_perm))
      flipped = jax.vmap(render)(flip_kp, flip_score)
      flipped = flipped.reshape(lead + flipped.shape[1:])
    volume = jnp.concatenate([volume, flipped], axis=1)
  return volume.astype(dtype)


def generate_pose_target(batch_keypoint: jax.Array, batch_score: jax.Array | None = None, *, height: int,
                         width: int, sigma: float = 0.6, use_score: bool = True, with_kp: bool = True,
                         with_limb: bool = False, skeletons: Sequence[Sequence[int]] = COCO_LIMBS,
                         double: bool = False, left_kp: Sequence[int] = COCO_LEFT_KP,
                         right_kp: Sequence[int] = COCO_RIGHT_KP, left_limb: Sequence[int] = COCO_LEFT_LIMB,
                         right_limb: Sequence[int] = COCO_RIGHT_LIMB, flip_style: str = '1.x',
                         eps: float = 1e-4, dtype=jnp.float32,
                         person_valid: jax.Array | None = None) -> jax.Array:
  """Heatmap volumes `[N, nc(*2), T, H, W, K]` from keypoints `[N, nc, M, T, V, 2]` and scores `[N, nc, M, T, V]`.

  Jitted and vmapped over N * nc clips; callable inside a jitted train step. Arguments mirror
  `skeljax.data.heatmap.GeneratePoseTarget`; ``double=True`` appends the flipped views after the originals
  along the clip axis (MMAction2's view order after FormatShape).

  ``person_valid`` `[N, nc, M]` (bool) marks persons added only to pad M: they are never drawn. It matters
  only with ``use_score=False``, where MMAction2 draws every person, even at (0, 0) with score 0; with
  ``use_score=True`` padded persons (score 0) are skipped anyway.
  """
  if not (with_kp or with_limb):
    raise ValueError('generate_pose_target: at least one of with_kp and with_limb must be True')
  if flip_style not in FLIP_STYLES:
    raise ValueError(f'generate_pose_target: flip_style must be one of {FLIP_STYLES}, got {flip_style!r}')
  if batch_keypoint.ndim != 6 or batch_keypoint.shape[-1] != 2:
    raise ValueError(f'generate_pose_target: batch_keypoint must be [N, nc, M, T, V, 2], got '
                     f'{batch_keypoint.shape}')
  if batch_score is None:
    batch_score = jnp.ones(batch_keypoint.shape[:-1], jnp.float32)
  elif batch_score.shape != batch_keypoint.shape[:-1]:
    raise ValueError(f'generate_pose_target: batch_score shape {batch_score.shape} != batch_keypoint '
                     f'shape[:-1] {batch_keypoint.shape[:-1]}')
  if person_valid is not None:
    if person_valid.shape != batch_keypoint.shape[:3]:
      raise ValueError(f'generate_pose_target: person_valid shape {person_valid.shape} != [N, nc, M] '
                       f'{batch_keypoint.shape[:3]}')
    # use_score=False draws every item at value 1; padded persons get value 0 instead.
    valid = jnp.broadcast_to(person_valid[..., None, None], batch_score.shape)
    batch_score = jnp.where(valid, batch_score if use_score else 1.0, 0.0)
    use_score = True
  num_joint = batch_keypoint.shape[-2]
  skeletons = tuple((int(a), int(b)) for a, b in skeletons)
  kp_perm = tuple(int(i) for i in swap_permutation(num_joint, left_kp, right_kp))
  limb_perm = tuple(int(i) for i in swap_permutation(len(skeletons), left_limb, right_limb))
  return _generate(batch_keypoint, batch_score, height=int(height), width=int(width), sigma=float(sigma),
                   use_score=bool(use_score), with_kp=bool(with_kp), with_limb=bool(with_limb),
                   skeletons=skeletons, double=bool(double), kp_perm=kp_perm, limb_perm=limb_perm,
                   flip_style=flip_style, eps=float(eps), dtype=jnp.dtype(dtype))
