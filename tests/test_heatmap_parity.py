"""GeneratePoseTarget (numpy and JAX) against MMAction2's own outputs (1.2.0 and 0.24.1 fixtures)."""

from __future__ import annotations

import numpy as np
import pytest

from skeljax.data.heatmap import GeneratePoseTarget, flip_keypoints_0x
from skeljax.data.heatmap_jax import generate_pose_target

ATOL = 1e-5
REFS_1X = 'posec3d_pipeline_refs.npz'
REFS_0X = 'posec3d0x_pipeline_refs.npz'
LEFT_KP, RIGHT_KP = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]

# The fixture README's variant table (everything else default: COCO limbs and left/right lists).
VARIANTS_1X = {
    'kp_score': dict(sigma=0.6, use_score=True, with_kp=True, with_limb=False),
    'kp_noscore': dict(sigma=0.6, use_score=False, with_kp=True, with_limb=False),
    'limb_score': dict(sigma=0.6, use_score=True, with_kp=False, with_limb=True),
    'limb_noscore': dict(sigma=0.6, use_score=False, with_kp=False, with_limb=True),
    'kp_score_double': dict(sigma=0.6, use_score=True, with_kp=True, with_limb=False, double=True,
                            left_kp=LEFT_KP, right_kp=RIGHT_KP),
    'limb_score_double': dict(sigma=0.6, use_score=True, with_kp=False, with_limb=True, double=True),
}
VARIANTS_0X = {
    'kp_score': dict(sigma=0.6, use_score=True, with_kp=True, with_limb=False),
    'kp_noscore': dict(sigma=0.6, use_score=False, with_kp=True, with_limb=False),
    'limb_score': dict(sigma=0.6, use_score=True, with_kp=False, with_limb=True),
    'kp_limb_score': dict(sigma=0.6, use_score=True, with_kp=True, with_limb=True),
}


@pytest.fixture(scope='module')
def refs_1x(parity_1x):
  return parity_1x.npz(REFS_1X)


@pytest.fixture(scope='module')
def refs_0x(parity_0x):
  return parity_0x.npz(REFS_0X)


def _channel_last(x: np.ndarray) -> np.ndarray:
  """1.x heatmaps [T, K, H, W] -> [T, H, W, K]."""
  return x.transpose(0, 2, 3, 1)


def _results_1x(refs, hw: int) -> dict:
  return dict(keypoint=refs[f'hw{hw}_keypoint'].copy(), keypoint_score=refs[f'hw{hw}_keypoint_score'].copy(),
              img_shape=(hw, hw))


def _results_0x(refs) -> dict:
  return dict(keypoint=refs['keypoint'].copy(), keypoint_score=refs['keypoint_score'].copy(),
              img_shape=tuple(int(v) for v in refs['img_shape']))


def _jax(results: dict, **kwargs) -> np.ndarray:
  """The JAX batched entry on one clip, flattened back to the transform's `[T(*2), H, W, K]`."""
  h, w = results['img_shape']
  out = np.asarray(generate_pose_target(results['keypoint'][None, None], results['keypoint_score'][None, None],
                                        height=h, width=w, **kwargs))
  return out[0].reshape((-1,) + out.shape[3:])


# ---- MMAction2 1.2.0 ------------------------------------------------------------------------------------

@pytest.mark.parametrize('hw', [56, 64])
@pytest.mark.parametrize('variant', sorted(VARIANTS_1X))
def test_numpy_parity_1x(refs_1x, parity_1x, hw, variant):
  expected = _channel_last(parity_1x.require(refs_1x, f'hw{hw}_{variant}', REFS_1X))
  out = GeneratePoseTarget(**VARIANTS_1X[variant])(_results_1x(refs_1x, hw))['imgs']
  assert out.shape == expected.shape and out.dtype == np.float32
  np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize('hw', [56, pytest.param(64, marks=pytest.mark.slow)])
@pytest.mark.parametrize('variant', sorted(VARIANTS_1X))
def test_jax_parity_1x(refs_1x, parity_1x, hw, variant):
  expected = _channel_last(parity_1x.require(refs_1x, f'hw{hw}_{variant}', REFS_1X))
  out = _jax(_results_1x(refs_1x, hw), **VARIANTS_1X[variant])
  assert out.shape == expected.shape
  np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize('hw', [56, 64])
def test_one_person_and_missing_score_key_parity_1x(refs_1x, parity_1x, hw):
  one = _results_1x(refs_1x, hw)
  one['keypoint'], one['keypoint_score'] = one['keypoint'][:1], one['keypoint_score'][:1]
  expected = _channel_last(parity_1x.require(refs_1x, f'hw{hw}_kp_score_1person', REFS_1X))
  np.testing.assert_allclose(GeneratePoseTarget()(one)['imgs'], expected, rtol=0, atol=ATOL)
  np.testing.assert_allclose(_jax(one), expected, rtol=0, atol=ATOL)

  no_key = _results_1x(refs_1x, hw)
  del no_key['keypoint_score']
  expected = _channel_last(parity_1x.require(refs_1x, f'hw{hw}_kp_no_score_key', REFS_1X))
  np.testing.assert_allclose(GeneratePoseTarget()(no_key)['imgs'], expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize('hw', [56, 64])
def test_kp_and_limb_together_parity_1x(refs_1x, parity_1x, hw):
  """We emit 17 + 17 channels; 1.x drew limb i over keypoint channel i and left 17..33 empty."""
  quirk = _channel_last(parity_1x.require(refs_1x, f'hw{hw}_kp_limb_score_upstream_quirk', REFS_1X))
  out = GeneratePoseTarget(with_kp=True, with_limb=True)(_results_1x(refs_1x, hw))['imgs']
  assert out.shape == quirk.shape
  np.testing.assert_allclose(np.maximum(out[..., :17], out[..., 17:]), quirk[..., :17], rtol=0, atol=ATOL)
  assert not quirk[..., 17:].any()


def test_val_pipeline_stage_parity_1x(refs_1x, parity_1x):
  """The GeneratePoseTarget stage of the real PoseC3D val pipeline (float64 keypoints in, cast like 1.x)."""
  prefix = 'val_stage4_CenterCrop_'
  results = dict(keypoint=parity_1x.require(refs_1x, prefix + 'keypoint', REFS_1X),
                 keypoint_score=parity_1x.require(refs_1x, prefix + 'keypoint_score', REFS_1X),
                 img_shape=tuple(int(v) for v in parity_1x.require(refs_1x, prefix + 'img_shape', REFS_1X)))
  expected = _channel_last(parity_1x.require(refs_1x, 'val_stage5_GeneratePoseTarget_imgs', REFS_1X))
  np.testing.assert_allclose(GeneratePoseTarget()(dict(results))['imgs'], expected, rtol=0, atol=ATOL)
  np.testing.assert_allclose(_jax(results), expected, rtol=0, atol=ATOL)


# ---- MMAction2 0.24.1 -----------------------------------------------------------------------------------

@pytest.mark.parametrize('variant', sorted(VARIANTS_0X))
def test_numpy_and_jax_parity_0x(refs_0x, parity_0x, variant):
  expected = parity_0x.require(refs_0x, f'gpt_{variant}', REFS_0X)
  kwargs = VARIANTS_0X[variant]
  out = GeneratePoseTarget(flip_style='0.x', **kwargs)(_results_0x(refs_0x))['imgs']
  assert out.shape == expected.shape
  np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)
  np.testing.assert_allclose(_jax(_results_0x(refs_0x), **kwargs), expected, rtol=0, atol=ATOL)


@pytest.mark.parametrize('variant', ['kp_score', 'limb_score'])
def test_double_flip_parity_0x(refs_0x, parity_0x, variant):
  """0.x re-renders the flipped keypoints (x' = W - x); the flipped half follows the original frames."""
  single = parity_0x.require(refs_0x, f'gpt_{variant}', REFS_0X)
  flipped = parity_0x.require(refs_0x, f'gpt_{variant}_double_flipped_half', REFS_0X)
  kwargs = dict(VARIANTS_0X[variant], double=True, left_kp=LEFT_KP, right_kp=RIGHT_KP)
  expected = np.concatenate([single, flipped])
  out = GeneratePoseTarget(flip_style='0.x', **kwargs)(_results_0x(refs_0x))['imgs']
  np.testing.assert_allclose(out, expected, rtol=0, atol=ATOL)
  np.testing.assert_allclose(_jax(_results_0x(refs_0x), flip_style='0.x', **kwargs), expected, rtol=0, atol=ATOL)


def test_kp_limb_double_parity_0x(refs_0x, parity_0x):
  """0.x kp+limb double: the flipped half is the 34-channel map of the flipped clip (limbs not permuted)."""
  results = _results_0x(refs_0x)
  results['keypoint'] = parity_0x.require(refs_0x, 'flip_lr_keypoint', REFS_0X)
  results['keypoint_score'] = parity_0x.require(refs_0x, 'flip_lr_keypoint_score', REFS_0X)
  flipped_expected = GeneratePoseTarget(with_limb=True)(results)['imgs']
  out = GeneratePoseTarget(with_limb=True, double=True, flip_style='0.x')(_results_0x(refs_0x))['imgs']
  np.testing.assert_allclose(out[:4], parity_0x.require(refs_0x, 'gpt_kp_limb_score', REFS_0X), rtol=0, atol=ATOL)
  np.testing.assert_allclose(out[4:], flipped_expected, rtol=0, atol=ATOL)


def test_flip_keypoints_parity_0x(refs_0x, parity_0x):
  kp, score = refs_0x['keypoint'], refs_0x['keypoint_score']
  width = int(refs_0x['img_shape'][1])
  flip_kp, flip_score = flip_keypoints_0x(kp, score, width, LEFT_KP, RIGHT_KP)
  np.testing.assert_array_equal(flip_kp, parity_0x.require(refs_0x, 'flip_lr_keypoint', REFS_0X))
  np.testing.assert_array_equal(flip_score, parity_0x.require(refs_0x, 'flip_lr_keypoint_score', REFS_0X))
  noswap, _ = flip_keypoints_0x(kp, None, width, [], [])
  np.testing.assert_array_equal(noswap, parity_0x.require(refs_0x, 'flip_noswap_keypoint', REFS_0X))
