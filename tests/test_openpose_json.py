"""OpenPose per-frame JSON reader, the aggregorio OpenPose-18 dataset reader and the CLI, on real files."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, openpose_json

AGGREGORIO = 'aggregorio_openpose18_matteoturla'
POSES = AGGREGORIO + '/poses'


def test_openpose_v1_frames_to_record(sample_data):
  folder = sample_data.path(POSES + '/video2_000000000000_keypoints.json').parent
  paths = openpose_json.frame_files(folder)
  assert len(paths) == 55 and paths[0].name.endswith('000000000000_keypoints.json')
  record = openpose_json.load_openpose_clip(paths, label=2, frame_dir='video2', img_shape=(1920, 1080))
  assert record['keypoint'].shape == (2, 55, 18, 2) and record['total_frames'] == 55
  for t, path in enumerate(paths):
    people = json.loads(path.read_text())['people']
    flat = [np.float32(p['pose_keypoints']).reshape(18, 3) for p in people]
    best = max(range(len(flat)), key=lambda m: (flat[m][:, 2].sum(), -m))
    np.testing.assert_array_equal(record['keypoint'][0, t], flat[best][:, :2])
    np.testing.assert_array_equal(record['keypoint_score'][0, t], flat[best][:, 2])
    if len(flat) == 1:
      assert not record['keypoint'][1, t].any()
  validated = annotations.validate_annotation(record, source='poses', num_joints='openpose', num_classes=19)
  assert validated['img_shape'] == (1920, 1080)


def test_body25_and_malformed_frames(tmp_path):
  rng = np.random.default_rng(0)
  people = [rng.random((25, 3)).astype(np.float32) for _ in range(3)]
  for t in range(3):
    body = {'version': 1.3, 'people': [{'pose_keypoints_2d': p.reshape(-1).tolist()} for p in people[: t + 1]]}
    (tmp_path / f'clip_{t:012d}_keypoints.json').write_text(json.dumps(body))
  paths = openpose_json.frame_files(tmp_path, 'clip')
  record = openpose_json.load_openpose_clip(paths, label=0, frame_dir='clip', max_person=1, to_openpose18=True)
  assert record['keypoint'].shape == (1, 3, 18, 2)
  scores = [p[:, 2].sum() for p in people]
  best_last = int(np.argmax(scores))
  # BODY_25 -> 18: MidHip (8) is dropped, so joint 8 of the output is BODY_25's right hip (9).
  np.testing.assert_array_equal(record['keypoint'][0, 2, 8], people[best_last][9, :2])
  np.testing.assert_array_equal(record['keypoint'][0, 2, 17], people[best_last][18, :2])
  (tmp_path / 'clip_000000000004_keypoints.json').write_text(json.dumps({'people': []}))
  with pytest.raises(openpose_json.OpenPoseJsonError, match="frame 3 of clip 'clip' is missing"):
    openpose_json.frame_files(tmp_path, 'clip')
  bad = tmp_path / 'bad_000000000000_keypoints.json'
  bad.write_text(json.dumps({'people': [{'pose_keypoints_2d': [1.0] * 50}]}))
  with pytest.raises(openpose_json.OpenPoseJsonError, match=r'bad_000000000000_keypoints\.json: people\[0\]'):
    openpose_json.load_openpose_frame(bad)


def test_aggregorio_dataset(sample_data):
  root = sample_data.path(AGGREGORIO + '/label_name.txt').parent
  data = openpose_json.load_aggregorio_dataset(root)
  assert len(data['split']['train']) == 813 and len(data['split']['test']) == 380   # SOURCE.md counts
  assert len(data['classes']) == 19 and data['classes'][0] == 'sit down'
  records = {r['frame_dir']: r for r in data['annotations']}
  clip = records['A05/IXMAS_alba3']
  raw = np.load(root / 'aggregorio_skeletons_numpy/alerting/test/A05/IXMAS_alba3.npy')
  assert clip['label'] == 4 and clip['keypoint'].shape == (1, raw.shape[1], 18, 2)
  np.testing.assert_array_equal(clip['keypoint'][0], raw[:2, :, :, 0].transpose(1, 2, 0).astype(np.float32))
  np.testing.assert_array_equal(clip['keypoint_score'][0], raw[2, :, :, 0].astype(np.float32))
  assert {r['label'] for r in data['annotations']} == set(range(19))
  basic = openpose_json.load_aggregorio_dataset(root, 'basic')
  assert {r['label'] for r in basic['annotations']} == {0, 1, 2, 3}
  assert basic['classes'] == ['sit down', 'stand up', 'walking', 'lie']
  for split in ('train', 'test'):
    files = list((root / 'aggregorio_skeletons_numpy/basic' / split).glob('A0[1-4]/*.npy'))
    assert len(basic['split'][split]) == len(files) > 100
  assert len(basic['split']['train']) + len(basic['split']['test']) == len(basic['annotations'])
  for record in basic['annotations'][:20]:
    annotations.validate_annotation(record, source='aggregorio', num_joints='openpose', num_classes=4)


def test_cli_aggregorio_group(sample_data, tmp_path):
  root = sample_data.path(AGGREGORIO + '/label_name.txt').parent
  out = tmp_path / 'basic.pkl'
  result = subprocess.run([sys.executable, '-m', 'skeljax.tools.openpose_json_to_pickle',
                           f'--aggregorio_root={root}', f'--out={out}', '--group=basic'],
                          capture_output=True, text=True, check=True)
  num_test = len(list((root / 'aggregorio_skeletons_numpy/basic/test').glob('*/*.npy')))
  num_train = len(list((root / 'aggregorio_skeletons_numpy/basic/train').glob('*/*.npy')))
  assert f'{num_train + num_test} records (train {num_train}, test {num_test})' in result.stdout
  test = annotations.load_annotations(out, 'test', num_joints='openpose', num_classes=4)
  assert len(test) == num_test and {r['label'] for r in test} == {0, 1, 2, 3}


def _run_cli(*args):
  return subprocess.run([sys.executable, '-m', 'skeljax.tools.openpose_json_to_pickle', *map(str, args)],
                        capture_output=True, text=True)


def _best_person_per_frame(paths):
  """Highest-confidence person of each frame straight from the JSON: `[T, 18, 3]`."""
  best = []
  for path in paths:
    people = [np.float32(p['pose_keypoints']).reshape(18, 3) for p in json.loads(path.read_text())['people']]
    best.append(people[max(range(len(people)), key=lambda m: (people[m][:, 2].sum(), -m))])
  return np.stack(best)


def test_cli_per_frame_json_with_one_label(sample_data, tmp_path):
  folder = sample_data.path(POSES + '/video2_000000000000_keypoints.json').parent
  out = tmp_path / 'clips.pkl'
  result = _run_cli(f'--json_dir={folder}', f'--out={out}', '--label=3', '--img_shape=1080,1920')
  assert result.returncode == 0, result.stderr
  assert '1 records (test 1)' in result.stdout
  data = annotations.safe_load_pickle(out)
  assert data['split'] == {'test': ['video2']} and len(data['annotations']) == 1
  record = data['annotations'][0]
  assert record['frame_dir'] == 'video2' and record['label'] == 3 and record['total_frames'] == 55
  assert record['img_shape'] == (1080, 1920)
  assert record['keypoint'].shape == (2, 55, 18, 2) and record['keypoint'].dtype == np.float32
  assert record['keypoint_score'].shape == (2, 55, 18) and record['keypoint_score'].dtype == np.float32
  best = _best_person_per_frame(openpose_json.frame_files(folder, 'video2'))
  np.testing.assert_array_equal(record['keypoint'][0], best[..., :2])   # [M, T, V, C]: person first
  np.testing.assert_array_equal(record['keypoint_score'][0], best[..., 2])
  (test,) = annotations.load_annotations(out, 'test', num_joints='openpose', num_classes=4)
  assert test['label'] == 3


def test_cli_per_frame_json_with_a_label_file(sample_data, tmp_path):
  folder = sample_data.path(POSES + '/video2_000000000000_keypoints.json').parent
  paths = openpose_json.frame_files(folder, 'video2')
  poses = tmp_path / 'poses'
  poses.mkdir()
  # Two clips from the real frames: all of video2 as 'long', its frames 10..19 renumbered as 'short'.
  for t, path in enumerate(paths):
    (poses / f'long_{t:012d}_keypoints.json').write_bytes(path.read_bytes())
  for t, path in enumerate(paths[10:20]):
    (poses / f'short_{t:012d}_keypoints.json').write_bytes(path.read_bytes())
  labels = tmp_path / 'labels.json'
  labels.write_text(json.dumps({'long': 5, 'short': 1}))
  out = tmp_path / 'clips.pkl'
  result = _run_cli(f'--json_dir={poses}', f'--out={out}', f'--labels={labels}', '--split=train',
                    '--max_person=1')
  assert result.returncode == 0, result.stderr
  data = annotations.safe_load_pickle(out)
  assert data['split'] == {'train': ['long', 'short']}
  records = {r['frame_dir']: r for r in data['annotations']}
  assert records['long']['label'] == 5 and records['short']['label'] == 1
  assert records['long']['keypoint'].shape == (1, 55, 18, 2) and records['short']['total_frames'] == 10
  assert 'img_shape' not in records['short']
  best = _best_person_per_frame(paths[10:20])
  np.testing.assert_array_equal(records['short']['keypoint'][0], best[..., :2])
  np.testing.assert_array_equal(records['short']['keypoint_score'][0], best[..., 2])

  labels.write_text(json.dumps({'long': 5}))
  result = _run_cli(f'--json_dir={poses}', f'--out={tmp_path / "bad.pkl"}', f'--labels={labels}')
  assert result.returncode != 0 and "clip 'short' has no label" in result.stderr
  result = _run_cli(f'--json_dir={poses}', f'--out={tmp_path / "bad.pkl"}', f'--labels={labels}', '--label=1')
  assert result.returncode != 0 and 'exactly one of --label and --labels' in result.stderr
