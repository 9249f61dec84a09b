"""Raw NTU RGB+D parser, PySKL-style denoising, splits and the ntu_to_pickle CLI."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, ntu_raw, ntu_splits

A001 = 'ntu_raw/S001C001P001R001A001.skeleton'
A058 = 'ntu_raw/S001C003P008R002A058.skeleton'


# ----- parsing real files -----

def test_parsed_a001_equals_dataset_authors_reader_exactly(sample_data):
  seq = ntu_raw.parse_skeleton_file(sample_data.path(A001))
  reference = np.load(sample_data.path(A001 + '.npy'), allow_pickle=True).item()
  slots = seq.by_slot()
  assert seq.name == reference['file_name'] == 'S001C001P001R001A001'
  assert [len(f) for f in seq.frames if f] == reference['nbodys']
  assert slots.shape[0] == len([k for k in reference if k.startswith('skel_body')])
  np.testing.assert_array_equal(slots[0], reference['skel_body0'])


def test_crlf_and_lf_give_identical_arrays(sample_data):
  crlf = ntu_raw.parse_skeleton_file(sample_data.path(A001))
  lf = ntu_raw.parse_skeleton_file(sample_data.path('ntu_raw/S001C001P001R001A001.lf.skeleton'))
  assert b'\r\n' in sample_data.path(A001).read_bytes()[:100]
  assert crlf.name == lf.name and len(crlf.frames) == len(lf.frames) == 103
  for a, b in zip(crlf.frames, lf.frames):
    assert [x.body_id for x in a] == [x.body_id for x in b]
    for x, y in zip(a, b):
      np.testing.assert_array_equal(x.joints, y.joints)
      np.testing.assert_array_equal(x.info, y.info)
  np.testing.assert_array_equal(ntu_raw.to_record(crlf)['keypoint'], ntu_raw.to_record(lf)['keypoint'])


def test_a058_mutual_action_gives_two_persons(sample_data):
  seq = ntu_raw.parse_skeleton_file(sample_data.path(A058))
  record = ntu_raw.to_record(seq)
  assert record['label'] == 57 and record['frame_dir'] == 'S001C003P008R002A058'
  assert record['keypoint'].shape == (2, 70, 25, 3) and record['total_frames'] == 70
  # Each track is exactly one Kinect body (every frame holds both), in float16 precision.
  per_id = {}
  for frame in seq.frames:
    for body in frame:
      per_id.setdefault(body.body_id, []).append(body.joints[:, :3])
  assert len(per_id) == 2
  bodies = [np.stack(v).astype(np.float32).astype(np.float16).astype(np.float32) for v in per_id.values()]
  tracks = list(record['keypoint'])
  assert any(np.array_equal(tracks[0], b) for b in bodies) and any(np.array_equal(tracks[1], b) for b in bodies)
  assert not np.array_equal(tracks[0], tracks[1])
  two_d = ntu_raw.to_record(seq, modality='2d')
  assert two_d['keypoint'].shape == (2, 70, 25, 2) and two_d['img_shape'] == (1080, 1920)
  assert 0 < two_d['keypoint'][..., 0].mean() < 1920 and 0 < two_d['keypoint'][..., 1].mean() < 1080


def test_single_body_record_is_its_xyz(sample_data):
  seq = ntu_raw.parse_skeleton_file(sample_data.path('ntu_raw/S004C002P003R001A017.skeleton'))
  record = ntu_raw.to_record(seq, round_float16=False)
  assert record['label'] == 16 and record['total_frames'] == 124
  np.testing.assert_array_equal(record['keypoint'], seq.by_slot()[:1].astype(np.float32))


# ----- denoising (PySKL ntu_preproc.py) on synthetic files -----

def _pose(rng, amplitude, center=(0.0, 0.0, 3.0)):
  """A standing body: 0.4 m wide, 1.6 m tall, jittered by ``amplitude`` (its motion)."""
  base = np.stack([np.linspace(-0.2, 0.2, 25), np.linspace(-0.8, 0.8, 25), np.zeros(25)], -1)
  joints = base + np.asarray(center) + rng.normal(0, amplitude, (25, 3))
  return np.vectorize(lambda v: float(f'{v:.7g}'))(joints)  # the values as the file will hold them


def _write(path, frames):
  """frames: list of lists of (body_id, joints [25, 3]); other columns get plausible constants."""
  lines = [str(len(frames))]
  for bodies in frames:
    lines.append(str(len(bodies)))
    for body_id, joints in bodies:
      lines.append(f'{body_id} 0 1 1 1 1 0 0.01 0.02 2')
      lines.append('25')
      for x, y, z in joints:
        lines.append(f'{x:.7g} {y:.7g} {z:.7g} 250 200 {960 + 500 * x:.4f} {540 - 500 * y:.4f} 0 0 0 0 2')
  path.write_text('\r\n'.join(lines) + '\r\n')
  return ntu_raw.parse_skeleton_file(path)


def _track(rng, body_id, frames, amplitude, center=(0.0, 0.0, 3.0)):
  return {f: (body_id, _pose(rng, amplitude, center)) for f in frames}


def _frames(num_frames, *tracks):
  return [[t[f] for t in tracks if f in t] for f in range(num_frames)]


def _rounded(joints_by_frame, frames):
  return np.stack([joints_by_frame[f][1] for f in frames]).astype(np.float32).astype(np.float16).astype(np.float32)


def test_denoise_drops_short_bodies(tmp_path):
  rng = np.random.default_rng(0)
  long, short = _track(rng, 7, range(30), 0.01), _track(rng, 8, range(5, 16), 0.2)  # 11 frames: noise
  record = ntu_raw.to_record(_write(tmp_path / 'S001C001P001R001A001.skeleton', _frames(30, long, short)))
  assert record['keypoint'].shape == (1, 30, 25, 3)
  np.testing.assert_array_equal(record['keypoint'][0], _rounded(long, range(30)))


def test_denoise_drops_spread_bodies(tmp_path):
  rng = np.random.default_rng(1)
  person = _track(rng, 1, range(40), 0.01)
  # A lying "body" (wider than tall) in every frame, with more motion: spread noise, dropped.
  lying = {f: (2, _pose(rng, 0.05)[:, [1, 0, 2]]) for f in range(40)}
  record = ntu_raw.to_record(_write(tmp_path / 'S001C001P001R001A001.skeleton', _frames(40, person, lying)))
  assert record['keypoint'].shape == (1, 40, 25, 3)
  np.testing.assert_array_equal(record['keypoint'][0], _rounded(person, range(40)))


def test_denoise_packs_two_tracks_by_motion_and_overlap(tmp_path):
  rng = np.random.default_rng(2)
  first = _track(rng, 1, range(0, 30), 0.05)              # most motion -> track 0
  second = _track(rng, 2, range(10, 40), 0.02, (1, 0, 3))  # overlaps track 0 -> track 1
  third = _track(rng, 3, range(30, 44), 0.01, (2, 0, 3))   # after track 0 ends -> appended to track 0
  seq = _write(tmp_path / 'S001C001P001R001A051.skeleton', _frames(44, first, second, third))
  keypoint = ntu_raw.to_record(seq)['keypoint']
  assert keypoint.shape == (2, 44, 25, 3)
  np.testing.assert_array_equal(keypoint[0, :30], _rounded(first, range(30)))
  np.testing.assert_array_equal(keypoint[0, 30:], _rounded(third, range(30, 44)))
  np.testing.assert_array_equal(keypoint[1, 10:40], _rounded(second, range(10, 40)))
  assert not keypoint[1, :10].any() and not keypoint[1, 40:].any()


def test_denoise_track1_span_starts_at_frame_0_like_pyskl(tmp_path):
  rng = np.random.default_rng(4)
  first = _track(rng, 1, range(0, 60), 0.08)               # track 0, span [0, 60)
  second = _track(rng, 2, range(30, 45), 0.04, (1, 0, 3))   # overlaps -> track 1; PySKL's span becomes [0, 45)
  third = _track(rng, 3, range(10, 26), 0.02, (2, 0, 3))    # fits track 1 by frames, but overlaps [0, 45): dropped
  keypoint = ntu_raw.to_record(_write(tmp_path / 'S001C001P001R001A053.skeleton',
                                      _frames(60, first, second, third)))['keypoint']
  np.testing.assert_array_equal(keypoint[1, 30:45], _rounded(second, range(30, 45)))
  assert not keypoint[1, :30].any() and not keypoint[1, 45:].any()


def test_denoise_skips_empty_frames_trims_and_swaps_tracks(tmp_path):
  rng = np.random.default_rng(3)
  late = _track(rng, 1, range(12, 40), 0.05)     # most motion but starts later -> swapped to track 1
  early = _track(rng, 2, range(2, 30), 0.01, (1, 0, 3))
  frames = _frames(40, late, early)
  frames = [[], []] + frames[2:] + [[]]            # leading frames without bodies do not count
  seq = _write(tmp_path / 'S001C001P001R001A052.skeleton', frames)
  keypoint = ntu_raw.to_record(seq)['keypoint']
  assert keypoint.shape == (2, 38, 25, 3)          # 38 frames with bodies
  np.testing.assert_array_equal(keypoint[0, :28], _rounded(early, range(2, 30)))
  np.testing.assert_array_equal(keypoint[1, 10:], _rounded(late, range(12, 40)))


# ----- malformed files -----

@pytest.mark.parametrize('mutate, message', [
    (lambda lines: lines[:40], r':41: file ends early: expected joint'),
    (lambda lines: lines[:3] + ['24'] + lines[4:], r':4: joint count must be 25, got 24'),
    (lambda lines: lines[:6] + ['0.1 0.2 abc 1 1 1 1 0 0 0 0 2'] + lines[7:], r':5: bad joint value'),
    (lambda lines: lines[:6] + ['0.1 0.2'] + lines[7:], r':7: joint line must have 12 values, got 2'),
    (lambda lines: ['x'] + lines[1:], r':1: expected the number of frames'),
])
def test_malformed_files_name_file_and_line(sample_data, tmp_path, mutate, message):
  lines = sample_data.path(A001).read_text().splitlines()
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_text('\n'.join(mutate(lines)) + '\n')
  with pytest.raises(ntu_raw.NtuFormatError, match=r'S001C001P001R001A001\.skeleton' + message):
    ntu_raw.parse_skeleton_file(path)


def test_file_without_bodies_is_an_error(tmp_path):
  seq = _write(tmp_path / 'S001C001P001R001A001.skeleton', [[], []])
  with pytest.raises(ntu_raw.NtuFormatError, match='no body in any frame'):
    ntu_raw.to_record(seq)


# ----- splits, conversion, CLI -----

def test_split_rules_and_missing_lists():
  assert len(ntu_splits.XSUB_TRAIN_SUBJECTS) == 53
  assert len(ntu_splits.MISSING_SKELETONS_60) == 302 and len(ntu_splits.MISSING_SKELETONS_120) == 535
  names = ['S001C001P001R001A001', 'S002C002P003R001A010', 'S017C003P007R002A060', 'S018C001P045R001A061']
  splits60 = ntu_splits.make_splits(names[:3], 'ntu60')
  assert splits60['xsub_train'] == ['S001C001P001R001A001']          # P001 trains, P003/P007 do not
  assert splits60['xview_val'] == ['S001C001P001R001A001']           # camera 1 validates
  splits120 = ntu_splits.make_splits(names, 'ntu120')
  assert splits120['xsub_train'] == ['S001C001P001R001A001', 'S018C001P045R001A061']
  assert splits120['xset_train'] == ['S002C002P003R001A010', 'S018C001P045R001A061']
  assert not ntu_splits.in_dataset('S018C001P045R001A061', 'ntu60')


def test_cli_writes_pyskl_pickle(sample_data, tmp_path):
  folder = tmp_path / 'skeletons'
  folder.mkdir()
  for path in sample_data.path(A001).parent.glob('*.skeleton'):
    if '.lf.' not in path.name:
      (folder / path.name).symlink_to(path)
  # A sample from the missing-skeleton list is dropped even though its file exists.
  (folder / 'S001C002P005R002A008.skeleton').symlink_to(sample_data.path(A001))
  out = tmp_path / 'ntu60.pkl'
  result = subprocess.run([sys.executable, '-m', 'skeljax.tools.ntu_to_pickle', f'--skeleton_dir={folder}',
                           f'--out={out}', '--dataset=ntu60', '--num_workers=2'],
                          capture_output=True, text=True, check=True)
  assert '6 records' in result.stdout and 'persons {1: 5, 2: 1}' in result.stdout
  with open(out, 'rb') as f:
    raw = pickle.load(f)
  assert {type(r['keypoint'].dtype.type(0)) for r in raw['annotations']} == {np.float16}
  names = [r['frame_dir'] for r in raw['annotations']]
  assert 'S001C002P005R002A008' not in names and names == sorted(names)
  val = annotations.load_annotations(out, 'xview_val', num_joints='nturgb+d', num_classes=60)
  assert sorted(r['frame_dir'] for r in val) == sorted(n for n in names if 'C001' in n)
  # The 2-process CLI equals the in-process converter, record by record.
  direct = ntu_raw.convert_ntu_dir(folder, 'ntu60')
  assert direct['split'] == raw['split'] and len(direct['annotations']) == len(raw['annotations'])
  for ours, loaded in zip(direct['annotations'], raw['annotations']):
    assert ours['frame_dir'] == loaded['frame_dir'] and ours['label'] == loaded['label']
    np.testing.assert_array_equal(loaded['keypoint'].astype(np.float32), ours['keypoint'])
  with pytest.raises(FileNotFoundError, match='S001C002P005R002A008'):
    ntu_raw.convert_ntu_dir(folder, 'ntu60', names=['S001C002P005R002A008'])


def test_non_ntu_name_and_binary_content(sample_data, tmp_path):
  renamed = tmp_path / 'clip.skeleton'
  renamed.write_bytes(sample_data.path(A001).read_bytes())
  with pytest.raises(ntu_raw.NtuFormatError, match=r'clip\.skeleton: .*not an NTU sample name'):
    ntu_raw.to_record(ntu_raw.parse_skeleton_file(renamed))
  binary = tmp_path / 'S001C001P001R001A001.skeleton'
  binary.write_bytes(b'2\r\n1\r\n\xff\xfe')
  with pytest.raises(ntu_raw.NtuFormatError, match=r'S001C001P001R001A001\.skeleton:3: not a text'):
    ntu_raw.parse_skeleton_file(binary)
