"""Transform behaviour the parity fixtures cannot pin down: training-time randomness (drawn from the
per-element rng), option branches, errors, and the pipeline registry."""

import pickle

import numpy as np
import pytest

from skeljax.data import transforms as T
from skeljax.data.annotations import safe_load_pickle
from skeljax.data.pipeline import Compose, build_pipeline, known_transforms
from skeljax.data.third_party import grain
from skeljax.data.transforms_common import TransformError


def random_clip(persons=2, frames=20, joints=17, channels=2, seed=0):
  rng = np.random.default_rng(seed)
  return rng.uniform(50, 150, size=(persons, frames, joints, channels)).astype(np.float32)


# ---------------------------------------------------------------- UniformSampleFrames (train)


@pytest.mark.parametrize('frames', [7, 30, 75, 400])  # the three branches: loop, skip slots, segments
def test_train_sampling_is_seeded_and_uniform(frames):
  sampler = T.UniformSampleFrames(clip_len=32, num_clips=2)
  a = sampler({'total_frames': frames}, np.random.default_rng(1))['frame_inds']
  b = sampler({'total_frames': frames}, np.random.default_rng(1))['frame_inds']
  np.testing.assert_array_equal(a, b)
  assert a.shape == (64,) and a.dtype == np.int32 and 0 <= a.min() and a.max() < frames
  for clip in a.reshape(2, 32):
    if frames >= 32:  # no repeats, in order, spread over the whole video
      assert np.all(np.diff(clip) > 0) and clip[0] < frames / 32 + 1 and clip[-1] >= frames - frames / 32 - 1
    else:  # consecutive frames, looping
      np.testing.assert_array_equal(np.diff(clip) % frames, 1 % frames)
  draws = {tuple(sampler({'total_frames': frames}, np.random.default_rng(s))['frame_inds']) for s in range(8)}
  assert len(draws) > 1


def test_train_sampling_needs_rng_and_test_mode_leaves_global_state_alone():
  with pytest.raises(TransformError, match='rng'):
    T.UniformSampleFrames(clip_len=8)({'total_frames': 20, 'frame_dir': 'S001'})
  np.random.seed(3)
  expected = np.random.rand(4)
  np.random.seed(3)
  T.UniformSampleFrames(clip_len=8, num_clips=3, test_mode=True)({'total_frames': 20})
  np.testing.assert_array_equal(np.random.rand(4), expected)


def test_p_interval_keeps_each_clip_inside_a_random_window():
  sampler = T.UniformSampleFrames(clip_len=10, num_clips=1, p_interval=(0.5, 0.5))
  for seed in range(10):
    inds = sampler({'total_frames': 100}, np.random.default_rng(seed))['frame_inds']
    assert inds.max() - inds.min() < 50 and np.all(np.diff(inds) > 0)
  with pytest.raises(ValueError, match='p_interval'):
    T.UniformSampleFrames(clip_len=10, p_interval=(0.5, 1.5))


# ---------------------------------------------------------------- geometry


def test_random_resized_crop_box_and_shift():
  crop = T.RandomResizedCrop(area_range=(0.56, 1.0))
  kp = random_clip()
  for seed in range(20):
    out = crop({'keypoint': kp, 'img_shape': (100, 120)}, np.random.default_rng(seed))
    left, top, right, bottom = out['crop_bbox']
    h, w = out['img_shape']
    assert 0 <= left < right <= 120 and 0 <= top < bottom <= 100 and (h, w) == (bottom - top, right - left)
    assert 0.56 * 12000 * 0.97 <= h * w <= 12000 and 3 / 4 * 0.95 <= w / h <= 4 / 3 * 1.05
    np.testing.assert_allclose(out['keypoint'], kp - np.array([left, top], np.float32))
  # No attempt can fit a 2:1 box covering the whole frame: the centre square is the fallback.
  out = T.RandomResizedCrop((1.0, 1.0), (2.0, 2.0))({'img_shape': (50, 80)}, np.random.default_rng(0))
  assert tuple(out['crop_bbox']) == (15, 0, 65, 50)


def test_flip_draws_from_rng_and_is_an_involution():
  flip = T.Flip(flip_ratio=0.5, left_kp=[1, 3], right_kp=[2, 4], flip_label_map={5: 6})
  kp, score = random_clip(), np.random.default_rng(1).uniform(size=(2, 20, 17)).astype(np.float32)
  kp[0, 0, 0] = 0  # zero x marks a missing joint and stays zero
  outcomes = [flip({'keypoint': kp, 'img_shape': (64, 64), 'label': 5}, np.random.default_rng(s))
              for s in range(12)]
  assert {o['flip'] for o in outcomes} == {True, False}
  flipped = next(o for o in outcomes if o['flip'])
  assert flipped['label'] == 6 and flipped['keypoint'][0, 0, 0, 0] == 0
  np.testing.assert_allclose(flipped['keypoint'][..., 1, 0], 64 - kp[..., 2, 0])
  again = T.Flip(flip_ratio=1, left_kp=[1, 3], right_kp=[2, 4])(
      {'keypoint': flipped['keypoint'], 'keypoint_score': score, 'img_shape': (64, 64)})
  np.testing.assert_allclose(again['keypoint'], kp, atol=1e-5)
  np.testing.assert_array_equal(again['keypoint_score'], score[:, :, [0, 2, 1, 4, 3] + list(range(5, 17))])


def test_pose_compact_threshold_and_clipping():
  kp = np.zeros((1, 2, 17, 2), np.float32)
  kp[..., 0], kp[..., 1] = 100 + np.arange(17) * 0.3, 200  # 4.8 px wide: below the threshold
  out = T.PoseCompact()({'keypoint': kp, 'img_shape': (1080, 1920)})
  assert out['img_shape'] == (1080, 1920)
  kp[..., 0], kp[..., 1] = 5 + np.arange(17) * 10, 20 + np.arange(17) * 5
  out = T.PoseCompact(hw_ratio=1.0, allow_imgpad=False)({'keypoint': kp, 'img_shape': (100, 200)})
  h, w = out['img_shape']
  assert h <= 100 and w <= 200 and out['keypoint'][..., 0].min() >= 0 and out['keypoint'][..., 1].min() >= 0


def test_resize_without_ratio_and_errors():
  out = T.Resize(scale=(56, 56), keep_ratio=False)({'keypoint': random_clip(), 'img_shape': (64, 80)})
  assert out['img_shape'] == (56, 56)
  np.testing.assert_allclose(out['scale_factor'], [56 / 80, 56 / 64], rtol=1e-6)
  with pytest.raises(TransformError, match="'v_x'.*img_shape"):
    T.Resize(scale=(-1, 64))({'keypoint': random_clip(), 'frame_dir': 'v_x'})
  with pytest.raises(TransformError, match='keypoints only'):
    T.CenterCrop(64)({'imgs': np.zeros((1, 8, 8, 17)), 'img_shape': (8, 8)})


# ---------------------------------------------------------------- skeleton features


def test_prenormalize2d_and_tomotion_scores():
  kp = np.array([[[[0, 1080, 0.5], [960, 540, 0.25]]]], np.float32)  # [1, 1, 2, 3]
  out = T.PreNormalize2D()({'keypoint': kp})['keypoint']
  np.testing.assert_allclose(out, [[[[-1, 1, 0.5], [0, 0, 0.25]]]])
  clip = np.stack([kp, kp * 2], axis=1)[:, :, 0]  # [1, 2, 2, 3]
  motion = T.ToMotion(dataset='coco')({'keypoint': clip})['motion']
  np.testing.assert_allclose(motion[0, 0, :, :2], clip[0, 1, :, :2] - clip[0, 0, :, :2])
  np.testing.assert_allclose(motion[0, 0, :, 2], (clip[0, 0, :, 2] + clip[0, 1, :, 2]) / 2)
  assert not motion[:, -1].any()


def test_prenormalize2d_uses_the_samples_img_shape_over_the_default():
  kp = np.array([[[[0, 480, 0.5], [320, 240, 0.25], [640, 0, 1.0]]]], np.float32)  # [1, 1, 3, 3]
  transform = T.PreNormalize2D()
  out = transform({'keypoint': kp, 'img_shape': (480, 640)})['keypoint']
  np.testing.assert_allclose(out, [[[[-1, 1, 0.5], [0, 0, 0.25], [1, -1, 1.0]]]])
  # The constructor's img_shape is only the fallback for samples without one.
  out = T.PreNormalize2D(img_shape=(480, 640))({'keypoint': kp * 2, 'img_shape': (960, 1280)})['keypoint']
  np.testing.assert_allclose(out[..., :2], [[[[-1, 1], [0, 0], [1, -1]]]])


def test_genskefeat_2d_appends_score_and_rejects_3d_with_score():
  kp, score = random_clip(), np.ones((2, 20, 17), np.float32)
  out = T.GenSkeFeat(dataset='coco', feats=['j', 'b'])({'keypoint': kp, 'keypoint_score': score})
  assert out['keypoint'].shape == (2, 20, 17, 6) and 'keypoint_score' not in out
  np.testing.assert_array_equal(out['keypoint'][..., 5], 1)  # a bone's score is its joints' mean
  with pytest.raises(TransformError, match='nturgb'):
    T.GenSkeFeat()({'keypoint': kp, 'keypoint_score': score})
  with pytest.raises(TransformError, match='25 joints'):
    T.JointToBone('nturgb+d')({'keypoint': kp})


# ---------------------------------------------------------------- formatting and packing


def test_format_gcn_input_loop_mode_and_clip_split():
  kp = random_clip(persons=1, frames=12, channels=3)
  out = T.FormatGCNInput(num_person=3, mode='loop')({'keypoint': kp, 'num_clips': 3})['keypoint']
  assert out.shape == (3, 3, 4, 17, 3)
  np.testing.assert_array_equal(out[:, 1], out[:, 0])
  np.testing.assert_array_equal(out[1, 0], kp[0, 4:8])
  with pytest.raises(TransformError, match='num_clips=5'):
    T.FormatGCNInput()({'keypoint': kp, 'num_clips': 5})


def test_pack_pose_keypoints_pads_selects_and_flags():
  kp, score = random_clip(persons=3, frames=8), np.zeros((3, 8, 17), np.float32)
  score[0], score[2] = 0.9, 0.5  # person 1 is the weakest
  results = {'keypoint': kp, 'keypoint_score': score, 'img_shape': (56, 56), 'label': 4, 'num_clips': 2,
             'flip': True}
  packed = T.PackPoseKeypoints(num_person=2)(dict(results))
  assert packed['keypoint'].shape == (2, 2, 4, 17, 2) and packed['keypoint_score'].shape == (2, 2, 4, 17)
  np.testing.assert_array_equal(packed['keypoint'][1, 1], kp[2, 4:])
  assert packed['img_shape'].dtype == np.int32 and packed['label'] == 4 and packed['flip']
  assert packed['person_valid'].tolist() == [[True, True]] * 2
  padded = T.PackPoseKeypoints(num_person=4)(dict(results))
  assert not padded['keypoint_score'][:, 3].any()
  assert padded['person_valid'].tolist() == [[True, True, True, False]] * 2
  with pytest.raises(TransformError, match='3 persons'):
    T.PackPoseKeypoints(num_person=2, overflow='error')(dict(results))


def test_pack_action_inputs_prefers_imgs_and_checks_label():
  packed = T.PackActionInputs()({'imgs': np.ones((1, 4, 8, 8, 17)), 'keypoint': random_clip(), 'label': 3})
  assert packed['inputs'].shape == (1, 4, 8, 8, 17) and packed['inputs'].dtype == np.float32
  assert packed['label'].dtype == np.int32
  with pytest.raises(TransformError, match="'a01'.*label"):
    T.PackActionInputs()({'keypoint': random_clip(), 'frame_dir': 'a01'})
  assert T.PackActionInputs(require_label=False)({'keypoint': random_clip()})['label'] == -1


# ---------------------------------------------------------------- registry and Compose


def test_registry_names_typos_and_bad_arguments():
  assert {'UniformSampleFrames', 'GeneratePoseTarget', 'PackPoseKeypoints', 'DecompressPose'} <= set(known_transforms())
  with pytest.raises(KeyError, match='Did you mean UniformSampleFrames'):
    build_pipeline([{'type': 'UniformSampleFrame', 'clip_len': 4}])
  with pytest.raises(TypeError, match='PoseDecode'):
    build_pipeline([{'type': 'PoseDecode', 'random_drop': True}])


def test_compose_is_picklable_deterministic_and_leaves_input_alone():
  pipeline = build_pipeline([
      {'type': 'UniformSampleFrames', 'clip_len': 8}, {'type': 'PoseDecode'},
      {'type': 'PoseCompact', 'hw_ratio': 1.0}, {'type': 'Resize', 'scale': (-1, 64)},
      {'type': 'RandomResizedCrop', 'area_range': (0.56, 1.0)},
      {'type': 'Resize', 'scale': (56, 56), 'keep_ratio': False},
      {'type': 'Flip', 'flip_ratio': 0.5, 'left_kp': [1, 3], 'right_kp': [2, 4]},
      {'type': 'PackPoseKeypoints', 'num_person': 2}])
  assert pipeline.random and isinstance(pipeline[:2], Compose)
  record = {'keypoint': random_clip(frames=30), 'keypoint_score': np.ones((2, 30, 17), np.float32),
            'total_frames': 30, 'img_shape': (1080, 1920), 'label': 1}
  before = record['keypoint'].copy()
  clone = pickle.loads(pickle.dumps(pipeline))
  a, b = pipeline(record, np.random.default_rng(5)), clone(record, np.random.default_rng(5))
  for key in a:
    np.testing.assert_array_equal(a[key], b[key])
  np.testing.assert_array_equal(record['keypoint'], before)
  assert set(record) == {'keypoint', 'keypoint_score', 'total_frames', 'img_shape', 'label'}
  assert a['keypoint'].shape == (1, 2, 8, 17, 2) and tuple(a['img_shape']) == (56, 56)


def test_grain_random_map_runs_the_pipeline_per_element():
  pipeline = build_pipeline([{'type': 'UniformSampleFrames', 'clip_len': 4}, {'type': 'PoseDecode'},
                             {'type': 'FormatGCNInput', 'num_person': 2}, {'type': 'PackActionInputs'}])
  records = [{'keypoint': random_clip(frames=10 + i, seed=i), 'total_frames': 10 + i, 'label': i}
             for i in range(3)]
  ds = grain.MapDataset.source(records).seed(7).random_map(pipeline)
  first, second = list(ds), list(ds)
  for a, b in zip(first, second):
    np.testing.assert_array_equal(a['inputs'], b['inputs'])
  assert [int(x['label']) for x in first] == [0, 1, 2] and first[2]['inputs'].shape == (1, 2, 4, 17, 2)


# ---------------------------------------------------------------- real data


def test_posec3d_train_pipeline_on_real_ucf101_pose(sample_data):
  record = safe_load_pickle(sample_data.path('paddlevideo_examples/example_UCF101_skeleton.pkl'))
  record['keypoint'] = record['keypoint'].astype(np.float32)
  record['keypoint_score'] = record['keypoint_score'].astype(np.float32)
  pipeline = build_pipeline([
      {'type': 'UniformSampleFrames', 'clip_len': 48}, {'type': 'PoseDecode'},
      {'type': 'PoseCompact', 'hw_ratio': 1.0, 'allow_imgpad': True}, {'type': 'Resize', 'scale': (-1, 64)},
      {'type': 'RandomResizedCrop', 'area_range': (0.56, 1.0)},
      {'type': 'Resize', 'scale': (56, 56), 'keep_ratio': False},
      {'type': 'Flip', 'flip_ratio': 0.5, 'left_kp': [1, 3, 5, 7, 9, 11, 13, 15],
       'right_kp': [2, 4, 6, 8, 10, 12, 14, 16]},
      {'type': 'PackPoseKeypoints', 'num_person': 2}])
  packed = pipeline(record, np.random.default_rng(0))
  assert packed['keypoint'].shape == (1, 2, 48, 17, 2) and tuple(packed['img_shape']) == (56, 56)
  # Confident joints of the main person land in (or within a crop margin of) the 56 x 56 frame.
  confident = packed['keypoint'][0, 0][packed['keypoint_score'][0, 0] > 0.5]
  assert len(confident) > 100 and np.median(confident) > 0 and np.median(confident) < 56


def test_with_num_clips_overrides_the_test_sampler_only():
  from skeljax.data.pipeline import with_num_clips  # pylint: disable=g-import-not-at-top
  test = [{'type': 'UniformSampleFrames', 'clip_len': 8, 'num_clips': 10, 'test_mode': True},
          {'type': 'PoseDecode'}, {'type': 'FormatGCNInput', 'num_person': 2}, {'type': 'PackActionInputs'}]
  assert with_num_clips(test, None) == test
  one = with_num_clips(test, 1)
  assert one[0]['num_clips'] == 1 and test[0]['num_clips'] == 10  # a copy: the config is left alone
  record = {'keypoint': np.zeros((2, 40, 25, 3), np.float32), 'total_frames': 40, 'label': 3}
  assert build_pipeline(one)(dict(record))['inputs'].shape[0] == 1
  assert build_pipeline(with_num_clips(test, 3))(dict(record))['inputs'].shape[0] == 3
  with pytest.raises(ValueError, match='no UniformSampleFrames'):
    with_num_clips([{'type': 'PaddingWithLoop', 'clip_len': 300}, {'type': 'PoseDecode'}], 1)
