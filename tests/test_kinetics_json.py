"""ST-GCN Kinetics-skeleton JSON reader and its CLI, on real files."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, kinetics_json

KINETICS = 'kinetics_json_hluong89/--33Lscn6sk.json'
NTU_A055 = 'kinetics_json_hluong89/ntu_openpose_kinetics_format/S004C002P003R001A055_rgb.json'


def _top_person_by_hand(raw, w, h):
  """Per frame, the skeleton with the highest summed score (first on ties), in pixels; zeros if none."""
  out = np.zeros((max(f['frame_index'] for f in raw['data']), 18, 2), np.float32)
  for frame in raw['data']:
    skeletons = frame['skeleton'][:5]
    if skeletons:
      best = max(range(len(skeletons)), key=lambda m: (sum(np.float32(skeletons[m]['score'])), -m))
      out[frame['frame_index'] - 1] = np.float32(skeletons[best]['pose']).reshape(18, 2) * np.float32([w, h])
  return out


def test_kinetics_video(sample_data):
  path = sample_data.path(KINETICS)
  raw = json.loads(path.read_text())
  record = kinetics_json.load_kinetics_json(path)
  assert record['frame_dir'] == '--33Lscn6sk' and record['label'] == 129
  assert record['keypoint'].shape == (2, 189, 18, 2) and record['keypoint_score'].shape == (2, 189, 18)
  assert record['img_shape'] == (256, 340) and record['total_frames'] == 189
  np.testing.assert_allclose(record['keypoint'][0], _top_person_by_hand(raw, 340, 256), rtol=1e-6)
  empty = [f['frame_index'] - 1 for f in raw['data'] if not f['skeleton']]
  assert len(empty) == 26 and not record['keypoint'][:, empty].any() and not record['keypoint_score'][:, empty].any()
  # Person 1 never outscores person 0.
  assert np.all(record['keypoint_score'][0].sum(-1) >= record['keypoint_score'][1].sum(-1))
  normalised = kinetics_json.load_kinetics_json(path, img_shape=None, max_person=3)
  assert 'img_shape' not in normalised and normalised['keypoint'].shape[0] == 3
  np.testing.assert_allclose(normalised['keypoint'][:2] * np.float32([340, 256]), record['keypoint'], rtol=1e-6)
  validated = annotations.validate_annotation(record, source=str(path), num_joints='openpose', num_classes=400)
  assert validated['keypoint'].dtype == np.float32


def test_all_zero_scores_keep_coordinates_and_file_order(sample_data, caplog):
  path = sample_data.path(NTU_A055)
  raw = json.loads(path.read_text())
  with caplog.at_level(logging.WARNING):
    record = kinetics_json.load_kinetics_json(path, img_shape=None)
  assert 'every keypoint score is 0' in caplog.text
  assert record['label'] == 55  # stored label_index (an NTU action number in this file), used as is
  assert record['keypoint'].shape == (2, 76, 18, 2) and not record['keypoint_score'].any()
  for frame in raw['data']:
    for m, skeleton in enumerate(frame['skeleton'][:2]):
      np.testing.assert_array_equal(record['keypoint'][m, frame['frame_index'] - 1],
                                    np.float32(skeleton['pose']).reshape(18, 2))
  # ST-GCN's feeder zeroes unscored joints, which wipes such a file completely.
  assert not kinetics_json.load_kinetics_json(path, zero_unscored=True)['keypoint'].any()


def test_labels_from_override_or_label_map(sample_data):
  path = sample_data.path(KINETICS)
  assert kinetics_json.load_kinetics_json(path, label=3)['label'] == 3
  assert kinetics_json.load_kinetics_json(path, label_map=['x', 'flipping pancake'])['label'] == 1
  with pytest.raises(kinetics_json.KineticsJsonError, match='not in the label map'):
    kinetics_json.load_kinetics_json(path, label_map={'other': 0})


def test_malformed_files_name_file_and_frame(tmp_path):
  bad = tmp_path / 'bad.json'
  bad.write_text(json.dumps({'data': [{'frame_index': 1, 'skeleton': [{'pose': [0.1] * 34, 'score': [1] * 18}]}],
                             'label_index': 0}))
  with pytest.raises(kinetics_json.KineticsJsonError, match=r'bad\.json: data\[0\] \(frame_index 1\) skeleton 0'):
    kinetics_json.load_kinetics_json(bad)
  bad.write_text(json.dumps({'data': [{'frame_index': 0, 'skeleton': []}]}))
  with pytest.raises(kinetics_json.KineticsJsonError, match='frame_index must be an integer >= 1'):
    kinetics_json.load_kinetics_json(bad)
  bad.write_text(json.dumps({'data': [{'frame_index': 1, 'skeleton': []}], 'label_index': 0}))
  with pytest.raises(kinetics_json.KineticsJsonError, match='no skeleton in any frame'):
    kinetics_json.load_kinetics_json(bad)


def test_cli_with_label_file(sample_data, tmp_path):
  folder = tmp_path / 'kinetics_val'
  folder.mkdir()
  (folder / '--33Lscn6sk.json').symlink_to(sample_data.path(KINETICS))
  (folder / 'S004C002P003R001A055_rgb.json').symlink_to(sample_data.path(NTU_A055))
  label_file = tmp_path / 'labels.json'
  label_file.write_text(json.dumps({'--33Lscn6sk': {'has_skeleton': True, 'label': 'flipping pancake',
                                                    'label_index': 129},
                                    'S004C002P003R001A055_rgb': {'has_skeleton': False, 'label': 'x',
                                                                 'label_index': 5}}))
  out = tmp_path / 'k.pkl'
  result = subprocess.run([sys.executable, '-m', 'skeljax.tools.kinetics_json_to_pickle', f'--json_dir={folder}',
                           f'--out={out}', f'--label_file={label_file}', '--split=val'],
                          capture_output=True, text=True, check=True)
  assert '1 records (split val)' in result.stdout and '189 frames' in result.stdout
  (record,) = annotations.load_annotations(out, 'val', num_joints=18)
  assert record['frame_dir'] == '--33Lscn6sk' and record['keypoint'].shape == (2, 189, 18, 2)
