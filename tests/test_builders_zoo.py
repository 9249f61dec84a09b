"""The pickle-based builders of the model zoo, each built from a tiny synthetic annotation file in its format."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

import data_builders
from data_builders import build as build_lib
from skeljax.data import sources

# Datasets generated in code: they read no manual directory, so they need no download instructions.
GENERATED = ('synthetic_skeleton',)


def _record(rng, name: str, label: int, *, joints: int, channels: int, persons: int = 1,
            frames: int | None = None) -> dict:
  """One MMAction2 record; 2D ones (channels 2) carry scores and an image shape."""
  frames = frames or int(rng.integers(4, 12))
  record = {'frame_dir': name, 'label': label, 'total_frames': frames,
            'keypoint': rng.uniform(0, 500, (persons, frames, joints, channels)).astype(np.float32)}
  if channels == 2:
    record['keypoint_score'] = rng.uniform(0, 1, (persons, frames, joints)).astype(np.float32)
    record['img_shape'] = record['original_shape'] = (240, 320)
  return record


def _write(path, data) -> None:
  with open(path, 'wb') as f:
    pickle.dump(data, f)


def _all(source) -> dict[str, dict]:
  return {r['frame_dir']: r for r in (source[i] for i in range(len(source)))}


def _assert_round_trip(got: dict[str, dict], by_name: dict[str, dict]) -> None:
  for name, r in got.items():
    want = by_name[name]
    assert r['label'] == want['label'] and r['total_frames'] == want['total_frames']
    np.testing.assert_array_equal(r['keypoint'], want['keypoint'])
    if 'keypoint_score' in want:
      np.testing.assert_array_equal(r['keypoint_score'], want['keypoint_score'])
      assert r['img_shape'] == want['img_shape']
    else:
      assert 'keypoint_score' not in r and 'img_shape' not in r


@pytest.mark.parametrize('dataset, file_name, num_classes', [
    ('ucf101', 'ucf101_2d.pkl', 101),    # MMAction2 1.x name
    ('hmdb51', 'hmdb51.pkl', 51),        # MMAction2 0.x name
])
def test_ucf101_and_hmdb51_three_official_splits(tmp_path, dataset, file_name, num_classes):
  rng = np.random.default_rng(0)
  labels = [0, 1, num_classes - 1, 5, 7, 2]
  records = [_record(rng, f'v_{i}', label, joints=17, channels=2, persons=1 + i % 2)
             for i, label in enumerate(labels)]
  names = [r['frame_dir'] for r in records]
  # Each split k holds out a different pair of videos (the official lists rotate the held-out groups).
  split = {}
  for k in (1, 2, 3):
    test = names[2 * (k - 1):2 * k]
    split[f'train{k}'] = [n for n in names if n not in test]
    split[f'test{k}'] = test
  manual = tmp_path / 'manual'
  manual.mkdir()
  _write(manual / file_name, {'split': split, 'annotations': records})
  data = tmp_path / 'data'
  by_name = {r['frame_dir']: r for r in records}
  for k in (1, 2, 3):
    builder = build_lib.build(f'{dataset}/split{k}', data_dir=data, manual_dir=manual)
    assert {s: v.num_examples for s, v in builder.info.splits.items()} == {'train': 4, 'test': 2}
    assert builder.info.features['label'].num_classes == num_classes
    for tfds_split in ('train', 'test'):
      got = _all(sources.open_source(f'{dataset}/split{k}', tfds_split, data_dir=data))
      assert sorted(got) == sorted(split[f'{tfds_split}{k}'])
      _assert_round_trip(got, by_name)


def test_babel_list_pickles_both_configs(tmp_path):
  """MMAction2 0.x babel2mma2.py output: one list of single-person NTU-25 records per split file."""
  rng = np.random.default_rng(1)
  manual = tmp_path / 'manual'
  manual.mkdir()
  files = {}
  for num_classes in (60, 120):
    for split, labels in (('train', [0, 3, num_classes - 1]), ('val', [num_classes - 1, 10])):
      recs = [_record(rng, f'{num_classes}{split}{i}', label, joints=25, channels=3, frames=150)
              for i, label in enumerate(labels)]
      _write(manual / f'babel{num_classes}_{split}.pkl', recs)
      files[num_classes, split] = recs
  data = tmp_path / 'data'
  for num_classes in (60, 120):
    name = f'babel/babel{num_classes}'
    builder = build_lib.build(name, data_dir=data, manual_dir=manual)
    assert {s: v.num_examples for s, v in builder.info.splits.items()} == {'train': 3, 'val': 2}
    assert builder.info.features['label'].num_classes == num_classes
    for split in ('train', 'val'):
      want = {r['frame_dir']: r for r in files[num_classes, split]}
      got = _all(sources.open_source(name, split, data_dir=data))
      assert sorted(got) == sorted(want)
      _assert_round_trip(got, want)
      assert all(r['keypoint'].shape == (1, 150, 25, 3) for r in got.values())


def test_ntu120_xsub_and_xset_from_one_pickle(tmp_path):
  rng = np.random.default_rng(2)
  # Subjects 1 and 103 are xsub-train, 3 and 106 xsub-val; even setups are xset-train.
  names = ['S002C001P001R001A001', 'S031C002P003R002A120', 'S032C003P103R001A061', 'S018C001P106R002A050',
           'S001C002P001R001A117', 'S024C001P003R001A090']
  records = [_record(rng, n, int(n[-3:]) - 1, joints=25, channels=3, persons=1 + int(int(n[-3:]) >= 50))
             for n in names]
  split = {'xsub_train': [names[0], names[2], names[4]], 'xsub_val': [names[1], names[3], names[5]],
           'xset_train': [names[0], names[2], names[3], names[5]], 'xset_val': [names[1], names[4]]}
  manual = tmp_path / 'manual'
  manual.mkdir()
  _write(manual / 'ntu120_3danno.pkl', {'split': split, 'annotations': records})
  data = tmp_path / 'data'
  by_name = {r['frame_dir']: r for r in records}
  for bench in ('xsub', 'xset'):
    builder = build_lib.build(f'ntu120/{bench}_3d', data_dir=data, manual_dir=manual)
    assert builder.info.features['label'].num_classes == 120
    for tfds_split in ('train', 'val'):
      got = _all(sources.open_source(f'ntu120/{bench}_3d', tfds_split, data_dir=data))
      assert sorted(got) == sorted(split[f'{bench}_{tfds_split}'])
      _assert_round_trip(got, by_name)
  assert by_name['S031C002P003R002A120']['label'] == 119


def test_custom_skeleton_dict_pickle_with_renamed_splits(tmp_path):
  rng = np.random.default_rng(3)
  records = [_record(rng, f'clip{i}', i % 4, joints=17, channels=2, persons=1 + i % 2) for i in range(8)]
  names = [r['frame_dir'] for r in records]
  split = {'xsub_train': names[:5], 'xsub_val': names[5:], 'xview_train': names[2:], 'xview_val': names[:2]}
  _write(tmp_path / 'mine.pkl', {'split': split, 'annotations': records})
  data = tmp_path / 'data'
  build_lib.main(['custom_skeleton/my_xsub', f'--pickle={tmp_path / "mine.pkl"}',
                  '--splits=train=xsub_train,test=xsub_val', f'--data_dir={data}'])
  builder = sources.load_builder('custom_skeleton/my_xsub', data_dir=data)
  # Only the picked entries of the split table are built, under their new names.
  assert {s: v.num_examples for s, v in builder.info.splits.items()} == {'train': 5, 'test': 3}
  assert builder.info.features['label'].num_classes == 4
  assert builder.info.features['keypoint'].shape == (None, None, 17, 2)
  assert builder.info.metadata['layout'] == 'coco'
  by_name = {r['frame_dir']: r for r in records}
  for tfds_split, ann_split in (('train', 'xsub_train'), ('test', 'xsub_val')):
    got = _all(sources.open_source('custom_skeleton/my_xsub', tfds_split, data_dir=data))
    assert sorted(got) == sorted(split[ann_split])
    _assert_round_trip(got, by_name)
  with pytest.raises(ValueError, match=r"splits \['xset_val'\] are not in the file"):
    build_lib.build('custom_skeleton/bad', data_dir=data, custom={'pickle': str(tmp_path / 'mine.pkl'),
                                                                   'splits': 'val=xset_val'})
  with pytest.raises(ValueError, match=r'exactly one \.pkl(.|\n)*--pickle=my\.pkl'):
    build_lib.build('custom_skeleton/none', data_dir=data, manual_dir=tmp_path / 'data')


def test_every_builder_documents_version_and_manual_files():
  for name in data_builders.DATASETS:
    cls = data_builders.builder_class(name)
    assert str(cls.VERSION) in cls.RELEASE_NOTES, name
    assert all(isinstance(v, str) and v for v in cls.RELEASE_NOTES.values()), name
    if name in GENERATED:
      continue
    instructions = cls.MANUAL_DOWNLOAD_INSTRUCTIONS
    assert isinstance(instructions, str) and instructions.strip(), f'{name} has no MANUAL_DOWNLOAD_INSTRUCTIONS'
    # The instructions are what a user sees when a file is missing, so they name every file a config reads.
    for config in cls.BUILDER_CONFIGS:
      for split in config.splits:
        for file_name, _ in split.candidates:
          assert file_name in instructions, f'{name}/{config.name}: {file_name} not in the instructions'
