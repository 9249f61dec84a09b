"""Data transforms against MMAction2's own outputs (1.2.0 and 0.24.1 pipeline fixtures).

The fixtures' READMEs fix every input, argument and seed. Test-time ``UniformSampleFrames`` reproduces
MMAction2's seeded draws, so every deterministic stage is compared exactly (or to float32 rounding).
0.x arrays in ``[C, T, V, M]`` are transposed to skeljax's channel-last layout here, at the boundary.
"""

import numpy as np
import pytest

from skeljax.data import transforms as T
from skeljax.data.pipeline import build_pipeline

ATOL = 1e-5


def close(actual, expected, atol=ATOL):
  np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64),
                             rtol=0, atol=atol)


def nctvm_to_channel_last(x):
  """0.x ``[C, T, V, M]`` -> skeljax ``[M, T, V, C]``."""
  return np.transpose(x, (3, 1, 2, 0))


class Refs:
  """A fixture file's arrays; a missing array fails the test with the file's name."""

  def __init__(self, fixture_dir, name):
    self.arrays, self.name, self.fixture_dir = fixture_dir.npz(name), name, fixture_dir

  def __getitem__(self, key):
    return self.fixture_dir.require(self.arrays, key, self.name)


@pytest.fixture(scope='module')
def gcn(parity_1x):
  return Refs(parity_1x, 'gcn_pipeline_refs.npz')


@pytest.fixture(scope='module')
def posec3d(parity_1x):
  return Refs(parity_1x, 'posec3d_pipeline_refs.npz')


@pytest.fixture(scope='module')
def manifest_1x(parity_1x):
  return parity_1x.json('manifest.json')['pipelines']


@pytest.fixture(scope='module')
def gcn0x(parity_0x):
  return Refs(parity_0x, 'gcn0x_pipeline_refs.npz')


@pytest.fixture(scope='module')
def manifest_0x(parity_0x):
  return parity_0x.json('manifest.json')['pipelines']


# ---------------------------------------------------------------- 1.x GCN


@pytest.mark.parametrize('raw_key, persons, ref_key', [
    ('raw_keypoint', 2, 'prenorm_keypoint'),
    ('raw_keypoint', 1, 'prenorm_keypoint_1person'),
    ('prenorm_keypoint_swapped_input', 2, 'prenorm_keypoint_swapped'),
])
def test_prenormalize3d_parity(gcn, raw_key, persons, ref_key):
  raw = gcn[raw_key][:persons]
  out = T.PreNormalize3D()({'keypoint': raw, 'total_frames': raw.shape[1]})
  close(out['keypoint'], gcn[ref_key])
  assert out['total_frames'] == int(gcn['prenorm_total_frames'])
  if ref_key == 'prenorm_keypoint':
    close(out['body_center'], gcn['prenorm_body_center'], atol=0)


def test_joint_to_bone_parity(gcn):
  out = T.JointToBone(dataset='nturgb+d', target='keypoint')({'keypoint': gcn['prenorm_keypoint']})
  close(out['keypoint'], gcn['joint_to_bone'], atol=0)


@pytest.mark.parametrize('feats', ['j', 'b', 'jm', 'bm', 'j_b', 'j_b_jm_bm'])
def test_genskefeat_parity(gcn, feats):
  out = T.GenSkeFeat(dataset='nturgb+d', feats=feats.split('_'))({'keypoint': gcn['prenorm_keypoint']})
  close(out['keypoint'], gcn[f'genskefeat_{feats}'], atol=0)
  assert set(out) == {'keypoint'}  # intermediate streams are not left behind


def test_uniform_sample_frames_test_mode_grid_parity(gcn, manifest_1x):
  keys = manifest_1x['gcn']['usf_grid_keys']
  assert len(keys) == 44
  for key in keys:
    _, _, frames, clip, clips = key.split('_')
    sampler = T.UniformSampleFrames(clip_len=int(clip[4:]), num_clips=int(clips[2:]), test_mode=True)
    out = sampler({'total_frames': int(frames[1:])})
    np.testing.assert_array_equal(out['frame_inds'], gcn[key], err_msg=key)
    assert out['frame_inds'].dtype == np.int32


@pytest.mark.parametrize('num_clips', [1, 10])
def test_sample_decode_format_parity(gcn, num_clips):
  prefix = f'usf_T134_clip100_nc{num_clips}'
  results = {'keypoint': gcn['prenorm_keypoint'], 'total_frames': 134}
  results = T.UniformSampleFrames(clip_len=100, num_clips=num_clips, test_mode=True)(results)
  np.testing.assert_array_equal(results['frame_inds'], gcn[f'{prefix}_frame_inds'])
  results = T.PoseDecode()(results)
  close(results['keypoint'], gcn[f'{prefix}_decoded'], atol=0)
  results = T.FormatGCNInput(num_person=2)(results)
  close(results['keypoint'], gcn[f'{prefix}_formatted'], atol=0)


@pytest.mark.parametrize('name', ['val_pipeline_j_out', 'val_pipeline_b_out', 'test_pipeline_j_out',
                                  'test_pipeline_b_out'])
def test_gcn_config_pipeline_parity(gcn, manifest_1x, name):
  cfg = manifest_1x['gcn']['full_pipelines'][name] + [{'type': 'PackActionInputs'}]
  pipeline = build_pipeline(cfg)
  assert not pipeline.random
  raw = gcn['raw_keypoint']
  packed = pipeline({'keypoint': raw, 'total_frames': raw.shape[1], 'label': 7})
  assert packed['inputs'].dtype == np.float32 and packed['label'] == 7
  close(packed['inputs'], gcn[name], atol=0)


# ---------------------------------------------------------------- 1.x PoseC3D (val pipeline, stage by stage)


# The side arrays each stage's fixture records besides its keypoints (MMAction2 1.2.0 results keys); every one
# is required, so a fixture set that dropped one fails instead of skipping the comparison.
POSEC3D_STAGE_KEYS = (
    ('keypoint_score', 'img_shape', 'frame_inds'),
    ('keypoint_score', 'img_shape'),
    ('keypoint_score', 'img_shape', 'crop_quadruple'),
    ('keypoint_score', 'img_shape'),
    ('keypoint_score', 'img_shape', 'crop_quadruple'),
)


def test_posec3d_val_stages_parity(posec3d, manifest_1x):
  cfg = manifest_1x['posec3d']['val_pipeline']
  assert [c['type'] for c in cfg[:5]] == ['UniformSampleFrames', 'PoseDecode', 'PoseCompact', 'Resize',
                                          'CenterCrop']
  raw = posec3d['raw_keypoint']
  results = {'keypoint': raw, 'keypoint_score': posec3d['raw_keypoint_score'],
             'total_frames': raw.shape[1], 'img_shape': (1080, 1920), 'label': 3}
  for stage, (op_cfg, keys) in enumerate(zip(cfg[:5], POSEC3D_STAGE_KEYS)):
    results = build_pipeline([op_cfg])(results)
    prefix = f'val_stage{stage}_{op_cfg["type"]}'
    for key in keys:
      close(results[key], posec3d[f'{prefix}_{key}'], atol=0)
    if stage == 1:
      # MMAction2's PoseCompact edits the keypoint array in place, so the recorded PoseDecode state
      # already holds stage 2's values; PoseDecode is checked against the raw clip gathered instead.
      np.testing.assert_array_equal(posec3d[f'{prefix}_keypoint'], posec3d['val_stage2_PoseCompact_keypoint'])
      close(results['keypoint'], raw[:, posec3d['val_stage0_UniformSampleFrames_frame_inds']], atol=0)
    else:
      close(results['keypoint'], posec3d[f'{prefix}_keypoint'])
  # What the heatmap renderer receives (GeneratePoseTarget leaves keypoints as they are).
  close(results['keypoint'], posec3d['val_stage5_GeneratePoseTarget_keypoint'])
  close(results['img_shape'], posec3d['val_stage5_GeneratePoseTarget_img_shape'], atol=0)


def test_posec3d_val_pipeline_end_to_end_parity(posec3d, manifest_1x):
  """The whole config pipeline through the registry, with the heatmap op loaded lazily."""
  pipeline = build_pipeline(manifest_1x['posec3d']['val_pipeline'] + [{'type': 'PackActionInputs'}])
  raw = posec3d['raw_keypoint']
  packed = pipeline({'keypoint': raw, 'keypoint_score': posec3d['raw_keypoint_score'],
                     'total_frames': raw.shape[1], 'img_shape': (1080, 1920), 'label': 3})
  expected = np.transpose(posec3d['val_stage6_FormatShape_imgs'], (0, 2, 3, 4, 1))  # NCTHW -> NTHWC
  assert packed['inputs'].shape == expected.shape == (1, 48, 64, 64, 17)
  close(packed['inputs'], expected)


def test_posec3d_keypoint_packing_parity(posec3d):
  """PackPoseKeypoints hands the device renderer exactly the val-stage keypoints, per clip."""
  raw = posec3d['raw_keypoint']
  pipeline = build_pipeline([
      {'type': 'UniformSampleFrames', 'clip_len': 48, 'num_clips': 1, 'test_mode': True},
      {'type': 'PoseDecode'}, {'type': 'PoseCompact', 'hw_ratio': 1.0, 'allow_imgpad': True},
      {'type': 'Resize', 'scale': [-1, 64]}, {'type': 'CenterCrop', 'crop_size': 64},
      {'type': 'PackPoseKeypoints', 'num_person': 3}])
  packed = pipeline({'keypoint': raw, 'keypoint_score': posec3d['raw_keypoint_score'],
                     'total_frames': raw.shape[1], 'img_shape': (1080, 1920), 'label': 3})
  close(packed['keypoint'][0, :2], posec3d['val_stage4_CenterCrop_keypoint'])
  close(packed['keypoint_score'][0, :2], posec3d['val_stage4_CenterCrop_keypoint_score'], atol=0)
  assert not packed['keypoint'][0, 2].any() and not packed['keypoint_score'][0, 2].any()
  np.testing.assert_array_equal(packed['img_shape'], posec3d['val_stage4_CenterCrop_img_shape'])


# ---------------------------------------------------------------- 0.x GCN


def test_padding_with_loop_parity(gcn0x, manifest_0x):
  for frames in manifest_0x['gcn']['paddingwithloop_grid']:
    out = T.PaddingWithLoop(clip_len=300)({'total_frames': frames, 'start_index': 0})
    np.testing.assert_array_equal(out['frame_inds'], gcn0x[f'paddingwithloop_T{frames}_frame_inds'])


def _decoded_0x(gcn0x, prefix, img_shape=None):
  raw = gcn0x[f'{prefix}_raw_keypoint']
  results = {'keypoint': raw, 'total_frames': raw.shape[1], 'start_index': 0}
  if prefix == 'coco':
    results['keypoint_score'] = gcn0x['coco_raw_keypoint_score']
    results['img_shape'] = img_shape
  results = T.PaddingWithLoop(clip_len=300)(results)
  np.testing.assert_array_equal(results['frame_inds'], gcn0x[f'{prefix}_frame_inds'])
  return T.PoseDecode()(results)


def test_ntu_0x_transforms_parity(gcn0x):
  decoded = _decoded_0x(gcn0x, 'ntu')
  close(decoded['keypoint'], gcn0x['ntu_posedecode_keypoint'], atol=0)
  formatted = T.FormatGCNInput(input_format='NCTVM', num_person=2)(dict(decoded))['keypoint']
  assert formatted.shape == (1, 2, 300, 25, 3)
  close(formatted[0], nctvm_to_channel_last(gcn0x['ntu_formatgcninput']), atol=0)
  bone = T.JointToBone(dataset='nturgb+d')(dict(decoded))
  close(bone['keypoint'], gcn0x['ntu_jointtobone_nturgbd'], atol=0)
  bone_formatted = T.FormatGCNInput(input_format='NCTVM')(bone)['keypoint']
  close(bone_formatted[0], nctvm_to_channel_last(gcn0x['ntu_jointtobone_formatgcninput']), atol=0)


def test_format_gcn_input_0x_person_count_parity(gcn0x):
  decoded = gcn0x['ntu_posedecode_keypoint']
  one = T.FormatGCNInput(input_format='NCTVM')({'keypoint': decoded[:1]})['keypoint']
  close(one[0], nctvm_to_channel_last(gcn0x['ntu_formatgcninput_1person']), atol=0)
  raw = gcn0x['ntu_raw_keypoint']
  three = T.FormatGCNInput(input_format='NCTVM')({'keypoint': np.concatenate([raw, raw[:1] * 0.5])})['keypoint']
  close(three[0], nctvm_to_channel_last(gcn0x['ntu_formatgcninput_3person']), atol=0)


def test_coco_0x_transforms_parity(gcn0x, manifest_0x):
  decoded = _decoded_0x(gcn0x, 'coco', tuple(manifest_0x['gcn']['coco_raw']['img_shape']))
  close(decoded['keypoint'], gcn0x['coco_posedecode_keypoint'], atol=0)
  close(decoded['keypoint_score'], gcn0x['coco_posedecode_keypoint_score'], atol=0)
  bone = T.JointToBone(dataset='coco')({'keypoint': decoded['keypoint']})['keypoint']
  close(bone, gcn0x['coco_jointtobone_coco_c2'], atol=0)
  formatted = T.FormatGCNInput(input_format='NCTVM')(dict(decoded))
  close(formatted['keypoint'][0], nctvm_to_channel_last(gcn0x['coco_formatgcninput']), atol=0)
  normalized = T.PoseNormalize()(formatted)['keypoint']
  close(normalized[0], nctvm_to_channel_last(gcn0x['coco_posenormalize']), atol=0)


def test_joint_to_bone_with_score_channel_parity(gcn0x):
  out = T.JointToBone(dataset='coco')({'keypoint': gcn0x['coco_jointtobone_coco_c3_input']})
  close(out['keypoint'], gcn0x['coco_jointtobone_coco_c3'], atol=0)


def test_pose_normalize_float32_parity(gcn0x):
  x = nctvm_to_channel_last(gcn0x['posenormalize_random_input'])
  out = T.PoseNormalize()({'keypoint': x})['keypoint']
  assert out.dtype == np.float32
  close(out, nctvm_to_channel_last(gcn0x['posenormalize_random']), atol=0)


@pytest.mark.parametrize('config', [
    'skeleton/stgcn/stgcn_80e_ntu60_xsub_keypoint_3d.py', 'skeleton/2s-agcn/2sagcn_80e_ntu60_xsub_keypoint_3d.py',
    'skeleton/2s-agcn/2sagcn_80e_ntu60_xsub_bone_3d.py', 'skeleton/stgcn/stgcn_80e_ntu60_xsub_keypoint.py'])
def test_0x_config_val_pipeline_parity(gcn0x, manifest_0x, config):
  entry = manifest_0x['gcn']['config_val_pipelines'][config]
  prefix = 'coco' if entry['output_equals'].startswith('coco') else 'ntu'
  raw = gcn0x[f'{prefix}_raw_keypoint']
  results = {'keypoint': raw, 'total_frames': raw.shape[1], 'start_index': 0, 'label': 0}
  if prefix == 'coco':
    results.update(keypoint_score=gcn0x['coco_raw_keypoint_score'], img_shape=(1080, 1920))
  packed = build_pipeline(entry['val_pipeline'] + [{'type': 'PackActionInputs'}])(results)
  close(packed['inputs'][0], nctvm_to_channel_last(gcn0x[entry['output_equals']]), atol=0)


# ---------------------------------------------------------------- 0.x Flip (the keypoints GeneratePoseTarget double=True sees)


def test_flip_0x_parity(parity_0x):
  refs = Refs(parity_0x, 'posec3d0x_pipeline_refs.npz')
  base = {'keypoint': refs['keypoint'], 'keypoint_score': refs['keypoint_score'],
          'img_shape': tuple(refs['img_shape']), 'modality': 'Pose'}
  coco_left, coco_right = [1, 3, 5, 7, 9, 11, 13, 15], [2, 4, 6, 8, 10, 12, 14, 16]
  swapped = T.Flip(flip_ratio=1, left_kp=coco_left, right_kp=coco_right)(dict(base))
  assert swapped['flip'] is True
  close(swapped['keypoint'], refs['flip_lr_keypoint'], atol=0)
  close(swapped['keypoint_score'], refs['flip_lr_keypoint_score'], atol=0)
  plain = T.Flip(flip_ratio=1)(dict(base))
  close(plain['keypoint'], refs['flip_noswap_keypoint'], atol=0)
  close(plain['keypoint_score'], base['keypoint_score'], atol=0)
