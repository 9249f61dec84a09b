"""Heatmap volumes on edge cases: numpy transform vs a per-item oracle, JAX vs numpy, jit/vmap, errors."""

from __future__ import annotations

import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from skeljax.data.heatmap import COCO_LIMBS, GeneratePoseTarget
from skeljax.data.heatmap_jax import (generate_pose_target, render_keypoint_heatmaps, render_limb_heatmaps,
                                      window_thresholds)

SIGMA = 0.6


def _oracle(keypoint, score, height, width, *, with_kp=True, with_limb=False, skeletons=COCO_LIMBS,
            sigma=SIGMA, eps=1e-4):
  """Spec §5.4 written out item by item (one Gaussian / segment at a time), `[T, H, W, K]`."""
  keypoint = keypoint.astype(np.float32)
  num_person, num_frame, num_joint = keypoint.shape[:3]
  channels = num_joint * with_kp + len(skeletons) * with_limb
  out = np.zeros((num_frame, height, width, channels), np.float32)

  def window(lo, hi, size):
    return max(int(float(lo) - 3 * sigma), 0), min(int(float(hi) + 3 * sigma) + 1, size)

  def gaussian(t, c, mu, value):
    x0, x1 = window(mu[0], mu[0], width)
    y0, y1 = window(mu[1], mu[1], height)
    if x1 <= x0 or y1 <= y0:
      return
    x = np.arange(x0, x1, dtype=np.float32)
    y = np.arange(y0, y1, dtype=np.float32)[:, None]
    patch = np.exp(-((x - mu[0]) ** 2 + (y - mu[1]) ** 2) / 2 / np.float32(sigma ** 2)) * value
    out[t, y0:y1, x0:x1, c] = np.maximum(out[t, y0:y1, x0:x1, c], patch)

  for m in range(num_person):
    for t in range(num_frame):
      kp, s = keypoint[m, t], score[m, t]
      for v in range(num_joint if with_kp else 0):
        if s[v] >= eps:
          gaussian(t, v, kp[v], s[v])
      for i, (ia, ib) in enumerate(skeletons if with_limb else ()):
        c = num_joint * with_kp + i
        a, b = kp[ia], kp[ib]
        value = min(s[ia], s[ib])
        if value < eps:
          continue
        d2_ab = float(a[0] - b[0]) ** 2 + float(a[1] - b[1]) ** 2
        if d2_ab < 1:
          gaussian(t, c, a, s[ia])
          continue
        x0, x1 = window(min(a[0], b[0]), max(a[0], b[0]), width)
        y0, y1 = window(min(a[1], b[1]), max(a[1], b[1]), height)
        if x1 <= x0 or y1 <= y0:
          continue
        x = np.arange(x0, x1, dtype=np.float32)
        y = np.arange(y0, y1, dtype=np.float32)[:, None]
        d2_a = (x - a[0]) ** 2 + (y - a[1]) ** 2
        d2_b = (x - b[0]) ** 2 + (y - b[1]) ** 2
        proj = (d2_a - d2_b + np.float32(d2_ab)) / 2. / np.float32(d2_ab)
        d2_line = (x - (a[0] + proj * (b[0] - a[0]))) ** 2 + (y - (a[1] + proj * (b[1] - a[1]))) ** 2
        d2 = np.where(proj <= 0, d2_a, np.where(proj >= 1, d2_b, d2_line)).astype(np.float64)
        patch = (np.exp(-d2 / 2. / sigma ** 2) * value).astype(np.float32)
        out[t, y0:y1, x0:x1, c] = np.maximum(out[t, y0:y1, x0:x1, c], patch)
  return out


def _edge_clip(seed: int, height=20, width=26):
  """Random COCO-17 clip `[3, 4, 17, 2]` with the cases the reference branches on."""
  rng = np.random.default_rng(seed)
  kp = rng.uniform(-4, [width + 4, height + 4], size=(3, 4, 17, 2)).astype(np.float32)
  score = rng.uniform(0, 1, size=(3, 4, 17)).astype(np.float32)
  # Centres where mu -+ 3 sigma lands on (or one ulp beside) an integer: the int() truncation boundary.
  for j, base in enumerate([3.8, 5.2, 0.8, -0.8, -1.8, width - 0.2, width + 0.8]):
    value = np.float32(base)
    kp[0, 0, j, 0] = value
    kp[0, 1, j, 1] = np.nextafter(value, np.float32(np.inf))
    kp[0, 2, j, 0] = np.nextafter(value, np.float32(-np.inf))
  score[1, :, :3] = 0.0                   # skipped
  score[1, 1, 3:6] = 5e-5                 # below eps
  score[1, 2, 6] = 1.5e-4                 # just above eps
  kp[2, 0, 7] = kp[2, 0, 5] + np.float32([0.5, 0.3])   # limb (5, 7) with d2 < 1
  kp[2, 1, 13] = kp[2, 1, 11]                           # zero-length limb (11, 13)
  kp[2, 2, 9] = kp[2, 2, 7] + np.float32([1.0, 0.0])    # d2 == 1 exactly: drawn as a segment
  kp[2, 3] = 0.0                                        # absent person (coordinates 0)
  score[2, 3] = 0.0
  return kp, score


@pytest.mark.parametrize('use_score', [True, False])
@pytest.mark.parametrize('mode', ['kp', 'limb'])
def test_numpy_transform_matches_item_by_item_oracle(use_score, mode):
  kp, score = _edge_clip(0)
  kwargs = dict(with_kp=mode == 'kp', with_limb=mode == 'limb')
  out = GeneratePoseTarget(use_score=use_score, **kwargs)(
      dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26)))['imgs']
  expected = _oracle(kp, score if use_score else np.ones_like(score), 20, 26, **kwargs)
  assert out.shape == expected.shape and out.dtype == np.float32
  assert expected.any()
  np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


@pytest.mark.parametrize('seed', [1, 2])
def test_jax_renderers_match_numpy_on_edge_cases(seed):
  kp, score = _edge_clip(seed, height=21, width=17)
  for use_score in (True, False):
    ref_kp = GeneratePoseTarget(use_score=use_score)(
        dict(keypoint=kp, keypoint_score=score, img_shape=(21, 17)))['imgs']
    ref_limb = GeneratePoseTarget(use_score=use_score, with_kp=False, with_limb=True)(
        dict(keypoint=kp, keypoint_score=score, img_shape=(21, 17)))['imgs']
    kw = dict(height=21, width=17, use_score=use_score)
    out_kp = jax.jit(functools.partial(render_keypoint_heatmaps, **kw))(kp, score)
    out_limb = jax.jit(functools.partial(render_limb_heatmaps, **kw))(kp, score)
    np.testing.assert_allclose(np.asarray(out_kp), ref_kp, rtol=0, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out_limb), ref_limb, rtol=0, atol=1e-5)


def test_window_thresholds_reproduce_int_truncation():
  """Float32 threshold masks == ``max(int(mu - 3s), 0) <= p < min(int(mu + 3s) + 1, size)`` in float64."""
  size, reach = 12, 3 * SIGMA
  enter, leave = window_thresholds(size, reach)
  grid = np.float32(np.arange(-40, 160) / 10)
  mus = np.concatenate([grid, np.nextafter(grid, np.float32(np.inf)), np.nextafter(grid, np.float32(-np.inf))])
  for mu in mus:
    st = max(int(float(mu) - reach), 0)
    ed = min(int(float(mu) + reach) + 1, size)
    expected = (np.arange(size) >= st) & (np.arange(size) < ed)
    np.testing.assert_array_equal((mu < enter) & (mu >= leave), expected, err_msg=f'mu={mu!r}')


def test_generate_pose_target_jit_vmap_batch_matches_numpy():
  """[N, nc, M, T, V, 2] -> [N, 2 nc, T, H, W, K] inside a user's jit; each view equals the numpy transform."""
  clips = [_edge_clip(s, height=16, width=18) for s in range(4)]
  kp = np.stack([c[0] for c in clips]).reshape(2, 2, 3, 4, 17, 2)
  score = np.stack([c[1] for c in clips]).reshape(2, 2, 3, 4, 17)

  @jax.jit
  def step(kp, score):
    return generate_pose_target(kp, score, height=16, width=18, with_kp=False, with_limb=True, double=True)

  out = np.asarray(step(kp, score))
  assert out.shape == (2, 4, 4, 16, 18, 17)
  transform = GeneratePoseTarget(with_kp=False, with_limb=True, double=True)
  for n in range(2):
    for clip in range(2):
      ref = transform(dict(keypoint=kp[n, clip], keypoint_score=score[n, clip], img_shape=(16, 18)))['imgs']
      np.testing.assert_allclose(out[n, clip], ref[:4], rtol=0, atol=1e-5)
      np.testing.assert_allclose(out[n, 2 + clip], ref[4:], rtol=0, atol=1e-5)  # flipped views follow

  bf16 = generate_pose_target(kp, score, height=16, width=18, dtype=jnp.bfloat16)
  assert bf16.shape == (2, 2, 4, 16, 18, 17) and bf16.dtype == jnp.bfloat16


def test_generate_pose_target_0x_flip_and_both_channel_sets_match_numpy():
  kp, score = _edge_clip(5, height=14, width=15)
  out = np.asarray(generate_pose_target(kp[None, None], score[None, None], height=14, width=15, with_limb=True,
                                        double=True, flip_style='0.x'))
  ref = GeneratePoseTarget(with_limb=True, double=True, flip_style='0.x')(
      dict(keypoint=kp, keypoint_score=score, img_shape=(14, 15)))['imgs']
  assert out.shape == (1, 2, 4, 14, 15, 34)
  np.testing.assert_allclose(out[0].reshape(ref.shape), ref, rtol=0, atol=1e-5)


def test_scaling_renders_on_the_scaled_grid():
  kp, score = _edge_clip(3, height=20, width=26)
  out = GeneratePoseTarget(scaling=0.5)(dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26)))['imgs']
  assert out.shape == (4, 10, 13, 17)  # int(h * 0.5 + 0.5), int(w * 0.5 + 0.5)
  np.testing.assert_allclose(out, _oracle(kp * np.float32(0.5), score, 10, 13), rtol=0, atol=1e-6)


def test_existing_imgs_get_heatmap_imgs_key():
  kp, score = _edge_clip(4)
  results = dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26), imgs='rgb frames')
  results = GeneratePoseTarget()(results)
  assert results['imgs'] == 'rgb frames' and results['heatmap_imgs'].shape == (4, 20, 26, 17)


def test_nan_coordinates_are_fine_when_skipped_and_an_error_when_drawn():
  kp, score = _edge_clip(6)
  kp[1, 0, 0] = np.nan  # score 0 there: never drawn
  out = GeneratePoseTarget()(dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26), frame_dir='clip_a'))
  assert np.isfinite(out['imgs']).all()
  kp[0, 0, 8] = np.nan
  with pytest.raises(ValueError, match=r"'clip_a'.*non-finite keypoint at person 0, frame 0, joint 8"):
    GeneratePoseTarget()(dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26), frame_dir='clip_a'))


@pytest.mark.parametrize('results, kwargs, message', [
    (dict(keypoint=np.zeros((1, 2, 17, 3)), img_shape=(8, 8)), {}, r'\[M, T, V, 2\]'),
    (dict(keypoint=np.zeros((1, 2, 17, 2)), keypoint_score=np.zeros((1, 2, 16)), img_shape=(8, 8)), {},
     'keypoint_score shape'),
    (dict(keypoint=np.zeros((1, 2, 5, 2)), img_shape=(8, 8)), dict(with_kp=False, with_limb=True),
     'outside'),
    (dict(keypoint=np.zeros((1, 2, 17, 2)), img_shape=(0, 8)), {}, 'img_shape'),
    (dict(keypoint=np.zeros((1, 2, 17, 2))), {}, 'img_shape'),
])
def test_bad_input_raises_clear_errors(results, kwargs, message):
  results['frame_dir'] = 'vid7'
  with pytest.raises((ValueError, KeyError), match=message):
    GeneratePoseTarget(**kwargs)(results)


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match='with_kp and with_limb'):
    GeneratePoseTarget(with_kp=False, with_limb=False)
  with pytest.raises(ValueError, match='flip_style'):
    GeneratePoseTarget(flip_style='2.x')
  with pytest.raises(ValueError, match=r'\[N, nc, M, T, V, 2\]'):
    generate_pose_target(jnp.zeros((2, 17, 2)), None, height=8, width=8)
  with pytest.raises(ValueError, match='batch_score shape'):
    generate_pose_target(jnp.zeros((1, 1, 1, 2, 17, 2)), jnp.zeros((1, 1, 1, 2, 16)), height=8, width=8)


def test_padded_persons_are_not_drawn_without_scores():
  """use_score=False draws all of MMAction2's persons; persons that only pad M must not appear."""
  kp, score = _edge_clip(7)
  padded_kp = np.concatenate([kp, np.zeros_like(kp[:1])])[None, None]
  padded_score = np.concatenate([score, np.zeros_like(score[:1])])[None, None]
  valid = np.array([[[True, True, True, False]]])
  out = generate_pose_target(padded_kp, padded_score, height=20, width=26, use_score=False, person_valid=valid)
  ref = GeneratePoseTarget(use_score=False)(dict(keypoint=kp, keypoint_score=score, img_shape=(20, 26)))['imgs']
  np.testing.assert_allclose(np.asarray(out)[0, 0], ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize('sigma', [0.3, 1.3])
@pytest.mark.parametrize('mode', ['kp', 'limb'])
def test_other_sigmas_match_oracle_numpy_and_jax(sigma, mode):
  """The Gaussian width and the 3-sigma window follow ``sigma``, in all three implementations."""
  height, width = 19, 23
  kp, score = _edge_clip(8, height=height, width=width)
  # Centres whose window edge mu -+ 3 sigma falls on an integer for this sigma: the truncation boundary.
  reach = 3 * sigma
  for j, base in enumerate([4 + reach, 7 - reach, reach, -reach, width - 1 + reach]):
    kp[0, 3, j] = np.float32([base, height - 1 - base])
  kwargs = dict(with_kp=mode == 'kp', with_limb=mode == 'limb')
  out = GeneratePoseTarget(sigma=sigma, **kwargs)(
      dict(keypoint=kp, keypoint_score=score, img_shape=(height, width)))['imgs']
  expected = _oracle(kp, score, height, width, sigma=sigma, **kwargs)
  assert expected.any()
  np.testing.assert_allclose(out, expected, rtol=0, atol=1e-5)
  jax_out = generate_pose_target(kp[None, None], score[None, None], height=height, width=width, sigma=sigma,
                                 **kwargs)
  np.testing.assert_allclose(np.asarray(jax_out)[0, 0], expected, rtol=0, atol=1e-5)
  default = GeneratePoseTarget(**kwargs)(dict(keypoint=kp, keypoint_score=score, img_shape=(height, width)))
  assert np.abs(out - default['imgs']).max() > 0.1


def test_train_step_inputs_skip_padded_persons_without_scores():
  """use_score=False: a person PackPoseKeypoints added only to fill num_person must not be drawn at (0, 0)."""
  from skeljax import train  # pylint: disable=g-import-not-at-top
  from skeljax.data.transforms import PackPoseKeypoints  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(3)
  kp = rng.uniform(4, 28, (1, 6, 17, 2)).astype(np.float32)  # one real person
  record = {'keypoint': kp, 'keypoint_score': np.ones((1, 6, 17), np.float32), 'img_shape': (32, 32),
            'label': 0}
  packed = PackPoseKeypoints(num_person=2)(dict(record))
  hm = dict(height=32, width=32, sigma=0.6, use_score=False, with_kp=True, with_limb=True)
  batch = {k: v[None] for k, v in packed.items()}
  on_device = np.asarray(train.make_heatmap_inputs_fn(hm)(batch))[0, 0]
  host = GeneratePoseTarget(sigma=0.6, use_score=False, with_kp=True, with_limb=True)(dict(record))['imgs']
  np.testing.assert_allclose(on_device, host, atol=1e-5)
  assert on_device[:, 0, 0].max() < 1e-3  # nothing at the padded person's (0, 0)
