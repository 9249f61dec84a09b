"""PoseC3D model structure: sizes from the MMAction2 metafiles/spec, init statistics, modes, clip folding, errors."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from skeljax.models import create_model
from skeljax.models.posec3d import PoseC3DRecognizer, mmaction_key_map
from skeljax.models.slowonly import ResNet3dSlowOnly


# One stage of one bottleneck: cheap to compile, still stem + strided block + downsample + head.
TINY_BACKBONE = dict(num_stages=1, stage_blocks=(1,), out_indices=(0,), inflate=(1,), spatial_strides=(2,),
                     temporal_strides=(2,), dilations=(1,))


def _num_params(module_fn) -> int:
  abstract = nnx.eval_shape(module_fn)
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(abstract, nnx.Param)))


@pytest.mark.parametrize('num_classes, expected', [(60, 2_024_860), (120, 2_055_640), (99, 2_044_867)])
def test_param_counts_match_metafile(num_classes, expected):
  # MMAction2 metafile parameter counts for the NTU60 / NTU120 / FineGYM PoseC3D models (spec 9.1).
  assert _num_params(lambda: PoseC3DRecognizer(num_classes=num_classes, rngs=nnx.Rngs(0))) == expected


@pytest.mark.parametrize('num_classes, expected', [(None, 3_003_360), (51, 3_029_523), (101, 3_055_173),
                                                   (400, 3_208_560)])
def test_param_counts_346_backbone(num_classes, expected):
  # Spec 9.1 analytic counts for the (3, 4, 6) backbone alone and with the HMDB51 / UCF101 / K400 heads.
  if num_classes is None:
    build = lambda: ResNet3dSlowOnly(stage_blocks=(3, 4, 6), rngs=nnx.Rngs(0))
  else:
    build = lambda: PoseC3DRecognizer(num_classes=num_classes, backbone={'stage_blocks': (3, 4, 6)},
                                      rngs=nnx.Rngs(0))
  assert _num_params(build) == expected


def test_backbone_output_shapes():
  # Spec 5.1: 17x48x56x56 -> 512x24x7x7, and 8x8 at 64x64; shapes only (eval_shape), no compute.
  model = nnx.eval_shape(lambda: PoseC3DRecognizer(num_classes=60, rngs=nnx.Rngs(0)))
  for size, out in ((56, 7), (64, 8)):
    y = jax.eval_shape(lambda m, x: m.backbone(x), model, jax.ShapeDtypeStruct((2, 48, size, size, 17), jnp.float32))
    assert y.shape == (2, 24, out, out, 512)
  logits = jax.eval_shape(lambda m, x: m(x), model, jax.ShapeDtypeStruct((2, 3, 48, 56, 56, 17), jnp.float32))
  assert logits.shape == (2, 3, 60)


def test_init_matches_mmaction_init_stats_parity(parity_1x):
  """Fresh init vs MMAction2's ``init_weights()`` statistics: kaiming fan_out convs, BN 1/0, zero-init residual BN,
  fc_cls N(0, 0.01) with zero bias."""
  stats = parity_1x.json('posec3d_stats.json')['init_weights_stats']
  model = PoseC3DRecognizer(num_classes=60, rngs=nnx.Rngs(3))
  key_map = mmaction_key_map(model)
  flat = dict(nnx.to_flat_state(nnx.state(model)))
  checked = 0
  for key, ref in stats.items():
    if key.endswith('num_batches_tracked'):
      continue
    path, transform = key_map.params[key]
    value = np.asarray(flat[path][...])
    assert value.shape == transform(np.zeros(ref['shape'])).shape, key
    if ref['std'] == 0:  # constants (BN scale/bias/statistics, head bias) must match exactly
      np.testing.assert_array_equal(value, np.full(value.shape, ref['mean'], np.float32), err_msg=key)
    else:  # random weights: same distribution, within ~6 standard errors of the sample statistics
      tolerance = 6 * ref['std'] / np.sqrt(value.size)
      assert abs(value.std() - ref['std']) < tolerance, key
      assert abs(value.mean()) < tolerance, key
    checked += 1
  assert checked == len(key_map.params)


def test_clips_fold_into_batch_and_modes():
  model = PoseC3DRecognizer(num_classes=5, backbone=TINY_BACKBONE, rngs=nnx.Rngs(0))
  # Non-trivial residual branches and head so that the checks below see real signal.
  leaves = nnx.state(model, nnx.Param)
  keys = jax.random.split(jax.random.key(1), len(jax.tree.leaves(leaves)))
  nnx.update(model, jax.tree.map(lambda v, k: v + 0.1 * jax.random.normal(k, v.shape), leaves,
                                 jax.tree.unflatten(jax.tree.structure(leaves), list(keys))))
  x = jax.random.uniform(jax.random.key(2), (2, 3, 4, 16, 16, 17))
  forward = nnx.jit(lambda m, x: m(x))
  model.eval()
  y = forward(model, x)
  assert y.shape == (2, 3, 5)
  per_clip = forward(model, x.transpose(1, 0, 2, 3, 4, 5).reshape((6, 1) + x.shape[2:]))
  np.testing.assert_allclose(y, per_clip.reshape(3, 2, 5).transpose(1, 0, 2), rtol=1e-5, atol=1e-5)
  np.testing.assert_array_equal(forward(model, x), y)  # eval is deterministic
  model.train()
  a, b = forward(model, x), forward(model, x)
  assert not np.allclose(a, b)  # dropout is active in train mode and draws fresh masks


def test_bfloat16_compute_keeps_float32_params():
  f32 = PoseC3DRecognizer(num_classes=5, backbone=TINY_BACKBONE, rngs=nnx.Rngs(0))
  bf16 = PoseC3DRecognizer(num_classes=5, backbone=TINY_BACKBONE, dtype='bfloat16', rngs=nnx.Rngs(0))
  assert all(x.dtype == jnp.float32 for x in jax.tree.leaves(nnx.state(bf16, nnx.Param, nnx.BatchStat)))
  f32.eval(), bf16.eval()
  x = jax.random.uniform(jax.random.key(0), (1, 1, 4, 16, 16, 17))
  run = nnx.jit(lambda m, x: (m.backbone(x[:, 0]), m.features(x)))
  backbone_bf16, features_bf16 = run(bf16, x)
  assert backbone_bf16.dtype == jnp.bfloat16 and features_bf16.dtype == jnp.float32
  np.testing.assert_allclose(features_bf16, run(f32, x)[1], rtol=5e-2, atol=5e-2)


def test_create_model_from_config():
  model = create_model({'name': 'posec3d', 'num_classes': 7, 'backbone': {'stage_blocks': [3, 4, 6]}},
                       nnx.Rngs(0))
  assert isinstance(model, PoseC3DRecognizer)
  assert [len(model.backbone.layer1), len(model.backbone.layer2), len(model.backbone.layer3)] == [3, 4, 6]


def test_bad_arguments_and_input_raise():
  with pytest.raises(NotImplementedError, match='depth 18'):
    ResNet3dSlowOnly(depth=18, rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match='stage_blocks'):
    ResNet3dSlowOnly(stage_blocks=(4, 6), rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match='convert_mmaction'):
    ResNet3dSlowOnly(pretrained='https://download.openmmlab.com/x.pth', rngs=nnx.Rngs(0))
  with pytest.raises(ValueError, match='spatial_strides'):
    ResNet3dSlowOnly(spatial_strides=(2, 2), rngs=nnx.Rngs(0))
  model = nnx.eval_shape(lambda: PoseC3DRecognizer(num_classes=5, rngs=nnx.Rngs(0)))
  with pytest.raises(ValueError, match=r'\[N, clips, T, H, W, K\]'):
    model(jnp.zeros((1, 4, 16, 16, 17)))
  with pytest.raises(ValueError, match='edition'):
    mmaction_key_map(model, edition='2.x')
