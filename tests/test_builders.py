"""TFDS skeleton builders: build into tmp_path (no TensorFlow) and check what ``as_data_source`` returns."""

from __future__ import annotations

import importlib.util
import os
import pickle

import numpy as np
import pytest

from data_builders import build as build_lib
from skeljax.data import ntu_raw, ntu_splits, sources

NTU_NAMES = ('S001C001P001R001A001', 'S001C002P002R001A002', 'S001C001P003R001A003', 'S001C003P001R002A050',
             'S002C002P004R001A010', 'S002C003P007R001A020')


def _ntu_records(rng, two_d: bool) -> list[dict]:
  records = []
  for name in NTU_NAMES:
    action = int(name[-3:])
    persons, frames = (2 if action >= 50 else 1), int(rng.integers(10, 30))
    record = {'frame_dir': name, 'label': action - 1, 'total_frames': frames}
    if two_d:
      record['keypoint'] = rng.uniform(0, 1000, (persons, frames, 17, 2)).astype(np.float32)
      record['keypoint_score'] = rng.uniform(0, 1, (persons, frames, 17)).astype(np.float32)
      record['img_shape'] = record['original_shape'] = (1080, 1920)
    else:
      # PySKL stores 3D keypoints as float16.
      record['keypoint'] = rng.normal(size=(persons, frames, 25, 3)).astype(np.float16)
    records.append(record)
  return records


def _pyskl_pickle(path, records) -> dict:
  """Writes a PySKL-layout pickle with xsub/xview splits computed from the names (spec §1.2)."""
  names = [r['frame_dir'] for r in records]
  split = {}
  for bench, is_train in (('xsub', lambda n: int(n[9:12]) in (1, 2, 4, 5, 8, 9)),
                          ('xview', lambda n: int(n[5:8]) in (2, 3))):
    split[f'{bench}_train'] = [n for n in names if is_train(n)]
    split[f'{bench}_val'] = [n for n in names if not is_train(n)]
  with open(path, 'wb') as f:
    pickle.dump({'split': split, 'annotations': records}, f)
  return split


def _all(source) -> dict[str, dict]:
  return {r['frame_dir']: r for r in (source[i] for i in range(len(source)))}


def test_synthetic_builds_both_editions(tmp_path):
  overrides = {'num_train': 26, 'num_val': 13, 'num_test': 0, 'max_frames': 60}
  b3 = build_lib.build('synthetic_skeleton/ntu25_3d', data_dir=tmp_path, config_overrides=overrides)
  b2 = build_lib.build('synthetic_skeleton/coco17_2d', data_dir=tmp_path, config_overrides=overrides)
  assert {k: v.num_examples for k, v in b3.info.splits.items()} == {'train': 26, 'val': 13}
  name3 = f'synthetic_skeleton/{b3.builder_config.name}'
  train = _all(sources.open_source(name3, 'train', data_dir=tmp_path))
  assert len(train) == 26
  assert sorted(r['label'] for r in train.values()) == sorted(list(range(13)) * 2)
  for r in train.values():
    m, t, v, c = r['keypoint'].shape
    assert (v, c) == (25, 3) and m in (1, 2) and 50 <= t <= 60 and t == r['total_frames']
    assert 'keypoint_score' not in r and 'img_shape' not in r
  assert sources.class_names(name3, data_dir=tmp_path)[:3] == ['waving', 'jumping', 'squats']
  val2 = _all(sources.open_source(f'synthetic_skeleton/{b2.builder_config.name}', 'val', data_dir=tmp_path))
  for r in val2.values():
    assert r['keypoint'].shape[2:] == (17, 2)
    assert r['keypoint_score'].shape == r['keypoint'].shape[:3]
    assert r['img_shape'] == (1080, 1920)


def test_ntu_builder_from_pyskl_pickles(tmp_path):
  rng = np.random.default_rng(0)
  manual = tmp_path / 'manual'
  manual.mkdir()
  recs3, recs2 = _ntu_records(rng, False), _ntu_records(rng, True)
  split = _pyskl_pickle(manual / 'ntu60_3danno.pkl', recs3)
  _pyskl_pickle(manual / 'ntu60_2d.pkl', recs2)
  data = tmp_path / 'data'
  for config in ('xsub_3d', 'xview_2d'):
    build_lib.main([f'ntu60/{config}', f'--manual_dir={manual}', f'--data_dir={data}'])
  for config, bench, recs in (('xsub_3d', 'xsub', recs3), ('xview_2d', 'xview', recs2)):
    by_name = {r['frame_dir']: r for r in recs}
    for tfds_split in ('train', 'val'):
      got = _all(sources.open_source(f'ntu60/{config}', tfds_split, data_dir=data))
      assert sorted(got) == sorted(split[f'{bench}_{tfds_split}'])
      for name, r in got.items():
        want = by_name[name]
        assert r['label'] == want['label'] and r['total_frames'] == want['total_frames']
        assert r['keypoint'].dtype == np.float32
        np.testing.assert_array_equal(r['keypoint'], want['keypoint'].astype(np.float32))
        if config.endswith('2d'):
          np.testing.assert_array_equal(r['keypoint_score'], want['keypoint_score'])
          assert r['img_shape'] == (1080, 1920)
        else:
          assert 'keypoint_score' not in r and 'img_shape' not in r


def test_ntu_builder_from_raw_skeleton_files(tmp_path, sample_data):
  raw = tmp_path / 'manual' / 'nturgb+d_skeletons'
  raw.mkdir(parents=True)
  names = ['S001C001P001R001A001', 'S001C003P008R002A058', 'S002C001P003R001A003', 'S004C002P003R001A017']
  for name in names:
    os.symlink(sample_data.path(f'ntu_raw/{name}.skeleton'), raw / f'{name}.skeleton')
  builder = build_lib.build('ntu60/xview_3d', data_dir=tmp_path / 'data', manual_dir=tmp_path / 'manual')
  got = {s: _all(sources.open_source('ntu60/xview_3d', s, data_dir=tmp_path / 'data')) for s in ('train', 'val')}
  # xview: cameras 2 and 3 train, camera 1 val (spec §1.2).
  assert sorted(got['train']) == ['S001C003P008R002A058', 'S004C002P003R001A017']
  assert sorted(got['val']) == ['S001C001P001R001A001', 'S002C001P003R001A003']
  assert got['train']['S001C003P008R002A058']['keypoint'].shape[0] == 2  # A058 is a two-person action
  for split in got.values():
    for name, r in split.items():
      assert r['label'] == ntu_splits.parse_name(name).label
      want = ntu_raw.to_record(ntu_raw.parse_skeleton_file(raw / f'{name}.skeleton'), '3d')
      np.testing.assert_array_equal(r['keypoint'], want['keypoint'])
  assert builder.info.splits['train'].num_examples == 2


def test_nwucla_builder_from_sample_files(tmp_path, sample_data):
  manual = tmp_path / 'manual'
  manual.mkdir()
  os.symlink(sample_data.path('nw_ucla_slice/val_label.pkl').parent / 'all_sqe', manual / 'all_sqe')
  build_lib.build('nwucla/xview', data_dir=tmp_path / 'data', manual_dir=manual)
  train = _all(sources.open_source('nwucla/xview', 'train', data_dir=tmp_path / 'data'))
  val = _all(sources.open_source('nwucla/xview', 'val', data_dir=tmp_path / 'data'))
  assert len(train) == 40 and len(val) == 20
  assert all(name.endswith(('_v01', '_v02')) for name in train) and all(n.endswith('_v03') for n in val)
  # CTR-GCN's val_label.pkl: 1-based labels and lengths of the view-3 sequences.
  with open(sample_data.path('nw_ucla_slice/val_label.pkl'), 'rb') as f:
    reference = pickle.load(f)
  assert sorted(val) == sorted(r['file_name'] for r in reference)
  for ref in reference:
    r = val[ref['file_name']]
    assert r['label'] == ref['label'] - 1
    assert r['keypoint'].shape == (1, ref['length'], 20, 3) and r['total_frames'] == ref['length']


def test_custom_skeleton_from_list_pickles_via_cli(tmp_path):
  rng = np.random.default_rng(1)
  records = [{'frame_dir': f'clip{i}', 'label': i % 3, 'total_frames': 12,
              'keypoint': rng.normal(size=(1, 12, 18, 3)).astype(np.float32)} for i in range(7)]
  for split, part in (('train', records[:5]), ('val', records[5:])):
    with open(tmp_path / f'mine_{split}.pkl', 'wb') as f:
      pickle.dump(part, f)
  build_lib.main(['custom_skeleton/my_set', f'--pickle=train={tmp_path}/mine_train.pkl,val={tmp_path}/mine_val.pkl',
                  f'--data_dir={tmp_path / "data"}'])
  train = _all(sources.open_source('custom_skeleton/my_set', 'train', data_dir=tmp_path / 'data'))
  val = _all(sources.open_source('custom_skeleton/my_set', 'val', data_dir=tmp_path / 'data'))
  assert sorted(train) == [f'clip{i}' for i in range(5)] and sorted(val) == ['clip5', 'clip6']
  np.testing.assert_array_equal(val['clip6']['keypoint'], records[6]['keypoint'])
  builder = sources.load_builder('custom_skeleton/my_set', data_dir=tmp_path / 'data')
  assert builder.info.features['label'].num_classes == 3
  assert builder.info.features['keypoint'].shape == (None, None, 18, 3)


def test_list_style_split_files_and_max_examples(tmp_path):
  """0.x FineGYM ships gym_train.pkl / gym_val.pkl (lists); --max_examples_per_split caps a smoke build."""
  rng = np.random.default_rng(2)
  for split, n in (('train', 6), ('val', 3)):
    recs = [{'frame_dir': f'{split}{i}', 'label': i, 'total_frames': 5, 'img_shape': (720, 1280),
             'keypoint': rng.uniform(0, 500, (1, 5, 17, 2)), 'keypoint_score': rng.uniform(0, 1, (1, 5, 17))}
            for i in range(n)]
    with open(tmp_path / f'gym_{split}.pkl', 'wb') as f:
      pickle.dump(recs, f)
  builder = build_lib.build('finegym/2d', data_dir=tmp_path / 'data', manual_dir=tmp_path,
                            max_examples_per_split=4)
  assert {k: v.num_examples for k, v in builder.info.splits.items()} == {'train': 4, 'val': 3}
  val = _all(sources.open_source('finegym/2d', 'val', data_dir=tmp_path / 'data'))
  assert val['val2']['img_shape'] == (720, 1280) and val['val2']['label'] == 2


def test_bad_inputs_raise_clear_errors(tmp_path):
  manual = tmp_path / 'manual'
  manual.mkdir()
  # An empty manual directory (TFDS's own check) and one without the needed file both print the URLs.
  with pytest.raises(AssertionError, match=r'(.|\n)*ntu120_3danno\.pkl  https://download\.openmmlab\.com'):
    build_lib.build('ntu120/xset_3d', data_dir=tmp_path / 'data', manual_dir=manual)
  (manual / 'notes.txt').write_text('not an annotation file')
  with pytest.raises(FileNotFoundError, match=r'ntu120_3danno\.pkl(.|\n)*https://download\.openmmlab\.com'):
    build_lib.build('ntu120/xset_3d', data_dir=tmp_path / 'data', manual_dir=manual)
  records = _ntu_records(np.random.default_rng(3), False)
  records[2]['keypoint'] = records[2]['keypoint'][:, :, :17]  # wrong joint count in one record
  _pyskl_pickle(manual / 'ntu60_3d.pkl', records)
  with pytest.raises(Exception, match=r'ntu60_3d\.pkl.*S001C001P003R001A003.*25'):
    build_lib.build('ntu60/xsub_3d', data_dir=tmp_path / 'data', manual_dir=manual)
  with pytest.raises(ValueError, match='no config'):
    build_lib.build('ntu60/xsub', data_dir=tmp_path / 'data', manual_dir=manual)
  with pytest.raises(sources.DatasetNotBuiltError, match=r'python -m data_builders\.build ntu120/xsub_2d'):
    sources.open_source('ntu120/xsub_2d', 'train', data_dir=tmp_path / 'data')


@pytest.mark.skipif(importlib.util.find_spec('apache_beam') is None,
                    reason='apache-beam is optional and not installed (it downgrades protobuf)')
def test_beam_build_matches_generator_build(tmp_path):
  overrides = {'num_train': 13, 'num_val': 0, 'num_test': 0, 'max_frames': 55}
  plain = build_lib.build('synthetic_skeleton/ntu25_3d', data_dir=tmp_path / 'a', config_overrides=overrides)
  beam = build_lib.build('synthetic_skeleton/ntu25_3d', data_dir=tmp_path / 'b', config_overrides=overrides,
                         beam=True, beam_pipeline_options='direct_num_workers=1')
  name = f'synthetic_skeleton/{plain.builder_config.name}'
  a = _all(sources.open_source(name, 'train', data_dir=tmp_path / 'a'))
  b = _all(sources.open_source(name, 'train', data_dir=tmp_path / 'b'))
  assert sorted(a) == sorted(b)
  for key in a:
    np.testing.assert_array_equal(a[key]['keypoint'], b[key]['keypoint'])
  assert beam.info.splits['train'].num_examples == 13


def test_kinetics_builder_filters_boxes_and_decompresses(tmp_path):
  """K400: a table-of-contents pickle plus kpfiles; detections under box_thr 0.5 dropped, empty frames squeezed."""
  rng = np.random.default_rng(4)
  (tmp_path / 'kpfiles').mkdir()
  kp = rng.uniform(1, 300, (4, 17, 3)).astype(np.float32)
  kp[..., 2] = rng.uniform(0.1, 1, (4, 17))
  toc = [{'frame_dir': 'vid_a', 'label': 7, 'total_frames': 6, 'img_shape': (340, 256),
          'frame_inds': np.array([0, 0, 2, 5]), 'box_score': np.array([0.9, 0.3, 0.8, 0.7])}]
  toc.append({'frame_dir': 'vid_b', 'label': 1, 'total_frames': 2, 'img_shape': (340, 256),
              'frame_inds': np.array([0, 1]), 'box_score': np.array([0.6, 0.7])})
  for name, keypoint in (('vid_a', kp), ('vid_b', kp[:2])):
    with open(tmp_path / 'kpfiles' / f'{name}.pkl', 'wb') as f:
      pickle.dump({'keypoint': keypoint}, f)
  with open(tmp_path / 'k400_2d.pkl', 'wb') as f:
    pickle.dump({'split': {'train': ['vid_a'], 'val': ['vid_b']}, 'annotations': toc}, f)
  build_lib.build('kinetics400/2d', data_dir=tmp_path / 'data', manual_dir=tmp_path)
  r = sources.open_source('kinetics400/2d', 'train', data_dir=tmp_path / 'data')[0]
  # Detection 1 (box 0.3) is dropped, leaving one person in frames 0, 2, 5 -> three squeezed frames.
  assert r['keypoint'].shape == (1, 3, 17, 2) and r['total_frames'] == 3 and r['label'] == 7
  keep = [0, 2, 3]
  np.testing.assert_allclose(r['keypoint'][0], kp[keep, :, :2], rtol=1e-3)  # MMAction2 goes through float16
  np.testing.assert_allclose(r['keypoint_score'][0], kp[keep, :, 2], rtol=1e-3)
  assert r['img_shape'] == (340, 256)


@pytest.mark.skipif(importlib.util.find_spec('apache_beam') is not None, reason='apache-beam is installed')
def test_beam_flag_without_apache_beam_says_how_to_get_it(tmp_path):
  with pytest.raises(ImportError, match='pip install apache-beam'):
    build_lib.main(['synthetic_skeleton/ntu25_3d', '--beam', f'--data_dir={tmp_path}'])
