"""NW-UCLA (CTR-GCN all_sqe layout) reader, cross-view split, labels vs CTR-GCN's val_label.pkl, CLI."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, nwucla
from skeljax.models.gcn import graph

SLICE = 'nw_ucla_slice'


def _slice_dir(sample_data):
  return sample_data.path(SLICE + '/val_label.pkl').parent


def test_labels_and_lengths_match_ctrgcn_val_label(sample_data):
  data = nwucla.convert_nwucla_dir(_slice_dir(sample_data))
  records = {r['frame_dir']: r for r in data['annotations']}
  with open(sample_data.path(SLICE + '/val_label.pkl'), 'rb') as f:
    val_label = pickle.load(f)  # CTR-GCN's own list: file_name, length, 1-based label
  assert len(val_label) == 20
  for entry in val_label:
    record = records[entry['file_name']]
    assert record['label'] == entry['label'] - 1
    assert record['total_frames'] == entry['length'] == record['keypoint'].shape[1]
  assert sorted(data['split']['xview_val']) == sorted(e['file_name'] for e in val_label)


def test_cross_view_split_and_records(sample_data):
  folder = _slice_dir(sample_data) / 'all_sqe'
  data = nwucla.convert_nwucla_dir(folder)
  train, val = data['split']['xview_train'], data['split']['xview_val']
  assert len(train) + len(val) == len(list(folder.glob('*.json'))) == len(data['annotations'])
  assert all(n.endswith(('_v01', '_v02')) for n in train) and all(n.endswith('_v03') for n in val)
  for record in data['annotations']:
    raw = json.loads((folder / f'{record["frame_dir"]}.json').read_text())
    np.testing.assert_array_equal(record['keypoint'][0], np.float32(raw['skeletons']))
    assert record['label'] == raw['label'] - 1
    annotations.validate_annotation(record, source='nwucla', num_joints='nw-ucla', num_classes=10)
  assert {r['label'] for r in data['annotations']} == set(range(10))


def test_name_rules_and_errors(tmp_path):
  assert nwucla.parse_name('a12_s09_e04_v03.json').label == 9
  with pytest.raises(nwucla.NwuclaError, match='action 7 is not one of'):
    nwucla.parse_name('a07_s01_e01_v01')
  bad = tmp_path / 'a01_s01_e01_v01.json'
  bad.write_text(json.dumps({'file_name': 'a01_s01_e01_v01', 'skeletons': [[[0, 0, 0]] * 19], 'label': 1}))
  with pytest.raises(nwucla.NwuclaError, match=r'a01_s01_e01_v01\.json: "skeletons" must be \[T, 20, 3\]'):
    nwucla.load_nwucla_file(bad)
  bad.write_text(json.dumps({'file_name': 'a01_s01_e01_v01', 'skeletons': [[[0, 0, 0]] * 20], 'label': 2}))
  with pytest.raises(nwucla.NwuclaError, match='stored label 2'):
    nwucla.load_nwucla_file(bad)


def test_graph_layout_matches_ctrgcn_ucla_graph():
  # CTR-GCN graph/ucla.py inward pairs (1-based), read from the reference repository.
  ctrgcn = [(1, 2), (2, 3), (4, 3), (5, 3), (6, 5), (7, 6), (8, 7), (9, 3), (10, 9), (11, 10), (12, 11), (13, 1),
            (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19)]
  layout = graph.get_layout('nw-ucla')
  assert layout.num_node == nwucla.NUM_JOINTS
  assert sorted(layout.inward) == sorted((i - 1, j - 1) for i, j in ctrgcn)


def test_cli(sample_data, tmp_path):
  out = tmp_path / 'ucla.pkl'
  result = subprocess.run([sys.executable, '-m', 'skeljax.tools.nwucla_to_pickle',
                           f'--data_dir={_slice_dir(sample_data)}', f'--out={out}'],
                          capture_output=True, text=True, check=True)
  assert 'xview_val 20' in result.stdout
  val = annotations.load_annotations(out, 'xview_val', num_joints='nw-ucla', num_classes=10)
  assert len(val) == 20 and all(r['keypoint'].shape[0] == 1 for r in val)
