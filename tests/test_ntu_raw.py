"""Raw NTU RGB+D parser, PySKL-style denoising, splits and the ntu_to_pickle CLI."""

from __future__ import annotations

import pickle
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, ntu_raw, ntu_raw_0x, ntu_splits

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

def _replace(lines, number, old, new):
  """``lines`` with the first ``old`` of 1-based line ``number`` replaced by ``new``."""
  assert old in lines[number - 1]
  return lines[:number - 1] + [lines[number - 1].replace(old, new, 1)] + lines[number:]


# A001: line 1 frame count, then per frame 28 lines: body count, body line, joint count, 25 joints. Line 996 is
# joint 12 of frame 36, starting '0.1506149 0.6267148 3.455223'; line 993 is joint 9 of that frame.
@pytest.mark.parametrize('mutate, message', [
    (lambda lines: lines[:40], r':40: file ends after this line, expected joint 9 of 25'),
    (lambda lines: lines[:3] + ['24'] + lines[4:], r':4: joint count must be 25, got 24'),
    (lambda lines: lines[:6] + ['0.1 0.2 abc 1 1 1 1 0 0 0 0 2'] + lines[7:],
     r":7: joint 3 value 'abc' is not a number"),
    (lambda lines: _replace(lines, 993, '1079.439', '1O79.439'), r":993: joint 9 value '1O79.439' is not"),
    (lambda lines: lines[:6] + ['0.1 0.2'] + lines[7:], r':7: joint line must have 12 values, got 2'),
    (lambda lines: ['x'] + lines[1:], r":1: expected the number of frames \(one integer\), got 'x'"),
    # A file cut inside a line: that partial line is the problem, not the end of the file after it.
    (lambda lines: lines[:995] + [lines[995][:20]], r':996: joint line must have 12 values, got 2'),
    # ``float`` reads these tokens; the coordinates they make are not data.
    (lambda lines: _replace(lines, 996, '0.1506149', 'nan'), r':996: joint 12 has a non-finite coordinate '
                                                               r'\(x, y, z = nan, 0.6267148, 3.455223\)'),
    (lambda lines: _replace(lines, 996, '3.455223', '-Infinity'), r':996: joint 12 has a non-finite'),
    (lambda lines: _replace(lines, 996, '3.455223', '1e999'), r':996: joint 12 has a non-finite'),
    # A form feed is whitespace to ``str.split`` (so the line still parses) but no line break: the bad value
    # further down keeps its line number.
    (lambda lines: _replace(_replace(lines, 901, ' ', '\f'), 993, '1079.439', 'x'), r":993: joint 9 value 'x'"),
    (lambda lines: lines + ['1'], r":2886: unexpected extra content after 103 frames: '1'"),
])
def test_malformed_files_name_file_and_line(sample_data, tmp_path, mutate, message):
  lines = sample_data.path(A001).read_text().splitlines()
  assert len(lines) == 2885
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_text('\n'.join(mutate(lines)) + '\n')
  with pytest.raises(ntu_raw.NtuFormatError, match=r'S001C001P001R001A001\.skeleton' + message):
    ntu_raw.parse_skeleton_file(path)


def test_non_finite_colour_pixels_fail_only_the_2d_conversion(sample_data, tmp_path):
  lines = sample_data.path(A001).read_text().splitlines()
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_text('\n'.join(_replace(lines, 996, '1023.2', 'nan')) + '\n')
  seq = ntu_raw.parse_skeleton_file(path)
  # 3D reads x, y, z only, which are intact: the record equals the original file's.
  original = ntu_raw.to_record(ntu_raw.parse_skeleton_file(sample_data.path(A001)))
  np.testing.assert_array_equal(ntu_raw.to_record(seq)['keypoint'], original['keypoint'])
  with pytest.raises(ntu_raw.NtuFormatError, match=r'A001\.skeleton:996: joint 12 has a non-finite value '
                                                   r'\(colorX, colorY = nan, 375.6484\)'):
    ntu_raw.to_record(seq, modality='2d')


def test_files_every_reader_accepts_keep_loading(sample_data, tmp_path):
  """CR-only line ends, blank lines at the end, tabs and form feeds between values read as the original."""
  text = sample_data.path(A001).read_text()
  lines = text.splitlines()
  original = ntu_raw.parse_skeleton_file(sample_data.path(A001))
  variants = {
      'cr': '\r'.join(lines) + '\r',
      'trailing blank lines': text + '\r\n  \r\n\r\n',
      'tabs and form feeds': '\n'.join(line.replace(' ', '\t', 1).replace(' ', '\f', 1) for line in lines),
  }
  for what, variant in variants.items():
    path = tmp_path / 'S001C001P001R001A001.skeleton'
    path.write_text(variant, newline='')
    seq = ntu_raw.parse_skeleton_file(path)
    assert len(seq.frames) == len(original.frames) == 103, what
    np.testing.assert_array_equal(seq.by_slot(), original.by_slot(), err_msg=what)


def test_frames_without_bodies_dropped_by_pyskl_style_kept_by_0x_style(sample_data, tmp_path):
  lines = sample_data.path(A001).read_text().splitlines()
  # Frame 11 (of now 104) holds no body: '0' in place of its body count, nothing else.
  path = tmp_path / 'S001C001P001R001A001.skeleton'
  path.write_text('\n'.join(['104'] + lines[1:1 + 10 * 28] + ['0'] + lines[1 + 10 * 28:]) + '\n')
  seq, original = ntu_raw.parse_skeleton_file(path), ntu_raw.parse_skeleton_file(sample_data.path(A001))
  assert [len(f) for f in seq.frames].count(0) == 1 and len(seq.frames) == 104
  # PySKL: frames without bodies do not exist, so the record is the original one.
  np.testing.assert_array_equal(ntu_raw.to_record(seq)['keypoint'], ntu_raw.to_record(original)['keypoint'])
  # MMAction2 0.x: the frame stays, all zeros, and the others are normalised exactly as before.
  kept, before = ntu_raw_0x.to_record(seq)['keypoint'], ntu_raw_0x.to_record(original)['keypoint']
  assert kept.shape == (2, 104, 25, 3) and not kept[:, 10].any()
  np.testing.assert_array_equal(np.delete(kept, 10, axis=1), before)


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


def test_cli_refuses_a_malformed_file_and_writes_nothing(sample_data, tmp_path):
  folder = tmp_path / 'skeletons'
  folder.mkdir()
  (folder / 'S002C001P003R001A003.skeleton').symlink_to(sample_data.path('ntu_raw/S002C001P003R001A003.skeleton'))
  lines = sample_data.path(A001).read_text().splitlines()
  (folder / 'S001C001P001R001A001.skeleton').write_text('\n'.join(_replace(lines, 996, '3.455223', 'nan')))
  out = tmp_path / 'ntu60.pkl'
  command = [sys.executable, '-m', 'skeljax.tools.ntu_to_pickle', f'--skeleton_dir={folder}', f'--out={out}']
  result = subprocess.run(command, capture_output=True, text=True, check=False)
  assert result.returncode == 1 and 'Traceback' not in result.stderr
  assert 'S001C001P001R001A001.skeleton:996: joint 12 has a non-finite coordinate' in result.stderr
  assert not out.exists()
  # What happens to frames without a body is part of the documented behaviour of each style.
  usage = subprocess.run(command[:3] + ['--help'], capture_output=True, text=True, check=False).stdout
  assert '``--style=pyskl`` drops them' in usage and '``--style=mmaction0x`` keeps them' in usage
