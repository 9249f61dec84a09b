"""Annotation pickles: safe loading, split selection, validation, Kinetics kpfiles and DecompressPose."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from skeljax.data import annotations
from skeljax.data.annotations import AnnotationError
from skeljax.data.decompress import decompress_pose

K400_META = 'mmaction2_k400_pose_meta/sample.pkl'
UCF101 = 'paddlevideo_examples/example_UCF101_skeleton.pkl'


def _record(**overrides):
  record = dict(frame_dir='S001C001P001R001A001', label=3, total_frames=4,
                keypoint=np.zeros((2, 4, 25, 3), np.float16), img_shape=(1080, 1920))
  record.update(overrides)
  return record


def _dump(tmp_path, obj, name='ann.pkl', protocol=pickle.HIGHEST_PROTOCOL):
  path = tmp_path / name
  path.write_bytes(pickle.dumps(obj, protocol=protocol))
  return path


# ----- real files -----

def test_paddlevideo_ucf101_posec3d_annotation(sample_data):
  path = sample_data.path(UCF101)
  (record,) = annotations.load_annotations(path, num_joints='coco', num_classes=101)
  with open(path, 'rb') as f:
    raw = pickle.load(f)  # the trusted reference reader, to compare against
  assert record['frame_dir'] == 'v_ApplyEyeMakeup_g01_c01' and record['label'] == 0
  assert record['keypoint'].dtype == np.float32 and record['keypoint'].shape == (2, 163, 17, 2)
  np.testing.assert_array_equal(record['keypoint'], raw['keypoint'].astype(np.float32))
  np.testing.assert_array_equal(record['keypoint_score'], raw['keypoint_score'].astype(np.float32))
  assert record['img_shape'] == (256, 340) and record['total_frames'] == 163


def test_k400_meta_split_and_valid_ratio_like_mmaction2(sample_data):
  path = sample_data.path(K400_META)
  assert len(annotations.load_annotations(path, split='train')) == 100
  # Expected counts are the ones MMAction2's own tests/datasets/test_pose_dataset.py asserts on this file.
  for valid_ratio, box_thr, expected in ((0.2, 0.9, 84), (0.3, 0.7, 87)):
    records = annotations.load_annotations(path, split='train', valid_ratio=valid_ratio, box_thr=box_thr)
    assert len(records) == expected
    for r in records:
      assert np.all(r['box_score'][r['anno_inds']] >= box_thr)
      assert r['valid'][box_thr] / r['total_frames'] >= valid_ratio
  with pytest.raises(AnnotationError, match=r"unknown split 'xsub_train'; available: \['train'\]"):
    annotations.load_annotations(path, split='xsub_train')
  with pytest.raises(ValueError, match='box_thr'):
    annotations.load_annotations(path, valid_ratio=0.2, box_thr=0.55)


def test_k400_kpfiles_load_lazily_and_decompress_to_valid_frame_count(sample_data, tmp_path):
  """Synthetic kpfiles for the real metadata; squeezed T must equal MMAction2's stored ``valid`` count."""
  path = sample_data.path(K400_META)
  records = annotations.load_annotations(path, split='train', valid_ratio=0.2, box_thr=0.9,
                                         data_prefix=tmp_path, num_joints=17)
  assert isinstance(records, annotations.KpfileAnnotations) and len(records) == 84
  rng = np.random.default_rng(0)
  for i in range(5):
    n = len(records.records[i]['frame_inds'])
    kp = rng.random((n, 17, 3)).astype(np.float16)
    _dump(tmp_path, {'keypoint': kp}, name=records.records[i]['frame_dir'] + '.pkl')
    record = records[i]
    dense = decompress_pose(record, squeeze=True, max_person=10)
    assert dense['total_frames'] == record['valid'][0.9] == dense['keypoint'].shape[1]
    assert dense['keypoint'].shape[2:] == (17, 2) and dense['keypoint_score'].shape == dense['keypoint'].shape[:3]
    kept = record['frame_inds'][record['anno_inds']]
    assert dense['keypoint'].shape[0] == max(np.unique(kept, return_counts=True)[1])
  with pytest.raises(FileNotFoundError):
    records[10]  # pylint: disable=pointless-statement


def _k400_with(sample_data, tmp_path, change):
  """The real K400 annotation file with one change applied, written to ``tmp_path``."""
  data = annotations.safe_load_pickle(sample_data.path(K400_META))
  change(data)
  return _dump(tmp_path, data, name='k400_changed.pkl')


def test_a_frame_dir_twice_is_refused(sample_data, tmp_path):
  path = _k400_with(sample_data, tmp_path, lambda d: d['annotations'].append(dict(d['annotations'][3])))
  with pytest.raises(AnnotationError, match=r"k400_changed\.pkl: frame_dir 'y9r115bgfNk' occurs twice "
                                            r"\(annotations #3 and #100\)"):
    annotations.load_annotations(path, split='train')
  with pytest.raises(AnnotationError, match="frame_dir 'y9r115bgfNk' occurs twice"):
    annotations.load_annotations(path)  # the whole file, no split


def test_a_split_name_without_annotation_is_refused(sample_data, tmp_path):
  path = _k400_with(sample_data, tmp_path, lambda d: d['split']['train'].insert(7, 'no_such_video'))
  with pytest.raises(AnnotationError, match=r"k400_changed\.pkl: split 'train' lists 1 frame_dir\(s\) with no "
                                            r"annotation: 'no_such_video'"):
    annotations.load_annotations(path, split='train')


def test_an_empty_split_is_refused(sample_data, tmp_path):
  path = _k400_with(sample_data, tmp_path, lambda d: d['split'].update(val=[]))
  assert len(annotations.load_annotations(path, split='train')) == 100
  with pytest.raises(AnnotationError, match=r"k400_changed\.pkl: split 'val' is empty"):
    annotations.load_annotations(path, split='val')


# ----- DecompressPose semantics -----

def test_decompress_pose_slots_squeeze_and_person_sorting():
  # Frames 3, 3, 7, 7, 7, 9 (1-based style ids); joint 0 carries a per-skeleton tag in x.
  frame_inds = np.array([3, 3, 7, 7, 7, 9])
  keypoint = np.zeros((6, 2, 3), np.float32)
  keypoint[:, 0, 0] = [10, 11, 20, 21, 22, 30]
  keypoint[:, :, 2] = np.array([0.2, 0.9, 0.1, 0.5, 0.3, 0.4])[:, None]
  record = dict(frame_dir='v', label=0, total_frames=12, frame_inds=frame_inds, keypoint=keypoint)

  out = decompress_pose(record, squeeze=True, max_person=10)
  assert out['total_frames'] == 3 and 'frame_inds' not in out and 'num_person' not in out
  assert out['keypoint'].shape == (3, 3, 2, 2)  # M = 3 (frame 7), T = 3 distinct frames
  np.testing.assert_array_equal(out['keypoint'][:, :, 0, 0], [[10, 20, 30], [11, 21, 0], [0, 22, 0]])

  unsqueezed = decompress_pose(record, squeeze=False, max_person=10)
  assert unsqueezed['keypoint'].shape == (3, 12, 2, 2)
  np.testing.assert_array_equal(unsqueezed['keypoint'][0, [3, 7, 9], 0, 0], [10, 20, 30])
  assert not unsqueezed['keypoint'][:, [0, 1, 2, 4, 5, 6, 8, 10, 11]].any()

  top2 = decompress_pose(record, squeeze=True, max_person=2)
  assert top2['num_person'] == 2 and top2['keypoint'].shape == (2, 3, 2, 2)
  # Sorted per frame by summed score: frame 3 -> 11 (0.9) before 10; frame 7 -> 21, 22; frame 9 -> 30.
  np.testing.assert_array_equal(top2['keypoint'][:, :, 0, 0], [[11, 21, 30], [10, 22, 0]])
  np.testing.assert_allclose(top2['keypoint_score'][:, :, 0], [[0.9, 0.5, 0.4], [0.2, 0.3, 0]], atol=1e-3)

  masked = decompress_pose(dict(record, anno_inds=np.array([True, False, True, True, False, False])))
  np.testing.assert_array_equal(masked['keypoint'][:, :, 0, 0], [[10, 20], [0, 21]])
  with pytest.raises(AnnotationError, match="record 'v'.*no skeleton left"):
    decompress_pose(dict(record, anno_inds=np.zeros(6, bool)))
  with pytest.raises(AnnotationError, match='total_frames is 8'):
    decompress_pose(dict(record, total_frames=8), squeeze=False)


# ----- container styles and safety -----

@pytest.mark.parametrize('protocol', [2, 4, 5])
def test_list_and_split_dict_files(tmp_path, protocol):
  records = [_record(frame_dir='a'), _record(frame_dir='b', label=1), _record(frame_dir='c', label=2)]
  listed = annotations.load_annotations(_dump(tmp_path, records, protocol=protocol))
  assert [r['frame_dir'] for r in listed] == ['a', 'b', 'c']
  assert listed[0]['keypoint'].dtype == np.float32
  with pytest.raises(AnnotationError, match='list of records'):
    annotations.load_annotations(_dump(tmp_path, records, protocol=protocol), split='train')
  data = {'split': {'xsub_train': ['a', 'c'], 'xsub_val': ['b']}, 'annotations': records}
  path = _dump(tmp_path, data, name='split.pkl', protocol=protocol)
  assert [r['frame_dir'] for r in annotations.load_annotations(path, 'xsub_train')] == ['a', 'c']
  assert [r['label'] for r in annotations.load_annotations(path, 'xsub_val')] == [1]
  # ``filename`` takes precedence over ``frame_dir`` when the records have it (PoseDataset rule).
  named = [dict(r, filename=f'x/{r["frame_dir"]}') for r in records]
  path = _dump(tmp_path, {'split': {'train': ['x/b']}, 'annotations': named}, name='named.pkl')
  assert [r['frame_dir'] for r in annotations.load_annotations(path, 'train')] == ['b']


def test_unpickling_refuses_code(tmp_path):
  class Evil:
    def __reduce__(self):
      return (print, ('pwned',))

  path = _dump(tmp_path, [_record(), Evil()], name='evil.pkl')
  with pytest.raises(AnnotationError, match=r'evil\.pkl.*refusing to load global builtins\.print'):
    annotations.load_annotations(path)


# ----- validation errors name the file and the record -----

@pytest.mark.parametrize('overrides, message', [
    (dict(keypoint=np.zeros((4, 25, 3))), 'rank 4'),
    (dict(keypoint=np.zeros((2, 4, 17, 3))), 'V = 17 joints, the layout needs 25'),
    (dict(keypoint=np.zeros((2, 4, 25, 4))), 'C = 2'),
    (dict(keypoint=np.full((2, 4, 25, 3), np.nan)), 'NaN/inf'),
    (dict(total_frames=-1), 'negative total_frames'),
    (dict(total_frames=5), 'total_frames = 5 but keypoint has 4 frames'),
    (dict(label=60), r'label 60 out of range \[0, 60\)'),
    (dict(label=-1), 'label -1 out of range'),
    (dict(label='3'), 'label must be an integer'),
    (dict(keypoint=np.zeros((2, 4, 25, 2)), keypoint_score=np.zeros((2, 4, 24))),
     'keypoint_score shape'),
    (dict(img_shape=(0, 10)), 'img_shape must be positive'),
])
def test_validation_errors(overrides, message):
  with pytest.raises(AnnotationError, match=rf"f\.pkl: record 'S001C001P001R001A001': .*{message}"):
    annotations.validate_annotation(_record(**overrides), source='f.pkl', num_joints='nturgb+d',
                                    num_classes=60)


def test_missing_keys_and_bad_containers(tmp_path):
  record = _record()
  del record['total_frames']
  with pytest.raises(AnnotationError, match='missing key total_frames'):
    annotations.validate_annotation(record, source='f.pkl')
  with pytest.raises(AnnotationError, match='no "split" dict'):
    annotations.load_annotations(_dump(tmp_path, {'annotations': [_record()]}), split='train')
  with pytest.raises(AnnotationError, match='expected a list of records'):
    annotations.load_annotations(_dump(tmp_path, 'text', name='s.pkl'))
  with pytest.raises(AnnotationError, match='cannot read annotation pickle'):
    (tmp_path / 'trunc.pkl').write_bytes(pickle.dumps([_record()])[:50])
    annotations.load_annotations(tmp_path / 'trunc.pkl')
  with pytest.raises(AnnotationError, match="record 'k'.*compressed keypoint has 2 skeletons"):
    annotations.validate_annotation(dict(frame_dir='k', label=0, total_frames=3, frame_inds=np.arange(3),
                                         keypoint=np.zeros((2, 17, 3))), source='k.pkl')
