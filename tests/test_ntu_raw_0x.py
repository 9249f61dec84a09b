"""MMAction2 0.x NTU conversion: energy body selection, 2s-AGCN pre_normalization, CLI and builder configs."""

from __future__ import annotations

import math
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from skeljax.data import annotations, ntu_raw, ntu_raw_0x, ntu_splits

A058 = 'ntu_raw/S001C003P008R002A058.skeleton'  # mutual action: two Kinect bodies in every frame
SINGLE = ('S001C001P001R001A001', 'S001C001P001R001A011', 'S002C001P003R001A003', 'S003C001P015R001A034',
          'S004C002P003R001A017')


def _real_files(sample_data):
  folder = sample_data.path(A058).parent
  return sorted(p for p in folder.glob('*.skeleton') if '.lf.' not in p.name)


def _write(path, frames):
  """frames: per frame, a list of joints ``[25, 3]`` (slot order); returns the parsed sequence."""
  lines = [str(len(frames))]
  for bodies in frames:
    lines.append(str(len(bodies)))
    for b, joints in enumerate(bodies):
      lines += [f'{72057594037931100 + b} 0 1 1 1 1 0 0.01 0.02 2', '25']
      lines += [f'{x:.7g} {y:.7g} {z:.7g} 250 200 960 540 0 0 0 0 2' for x, y, z in joints]
  path.write_text('\r\n'.join(lines) + '\r\n')
  return ntu_raw.parse_skeleton_file(path)


def _energy(frames):
  """The 0.x energy of one body, ``[F, 25, 3]`` of its present frames."""
  return sum(np.std(frames[..., c]) for c in range(3))


# ----- body selection -----

def test_energy_selects_bodies_of_a_two_person_file(sample_data):
  seq = ntu_raw.parse_skeleton_file(sample_data.path(A058))
  first = np.stack([f[0].joints[:, :3] for f in seq.frames])
  second = np.stack([f[1].joints[:, :3] for f in seq.frames])
  energy = ntu_raw_0x.body_energy(seq.by_slot())
  np.testing.assert_allclose(energy, [_energy(first), _energy(second)], rtol=1e-12)
  assert energy[0] != energy[1]
  selected = ntu_raw_0x.select_bodies(seq)
  assert selected.shape == (2, 70, 25, 3) and selected.dtype == np.float32
  high, low = (first, second) if energy[0] > energy[1] else (second, first)
  np.testing.assert_array_equal(selected[0], high.astype(np.float32))
  np.testing.assert_array_equal(selected[1], low.astype(np.float32))


def test_selection_uses_four_slots_by_appearance_and_keeps_two(tmp_path):
  rng = np.random.default_rng(0)
  base = np.stack([np.linspace(-0.2, 0.2, 25), np.linspace(-0.8, 0.8, 25), np.full(25, 3.0)], -1)
  amplitude = [0.01, 0.05, 0.02, 0.08, 0.5]  # the 5th slot moves most but is never read
  frames = [[base + rng.normal(0, a, (25, 3)) for a in amplitude] for _ in range(6)]
  frames[2] = frames[2][:1]  # a frame with fewer bodies leaves the other slots empty there
  seq = _write(tmp_path / 'S001C001P001R001A050.skeleton', frames)
  selected = ntu_raw_0x.select_bodies(seq)
  slots = seq.by_slot()
  assert slots.shape[0] == 5 and selected.shape == (2, 6, 25, 3)
  # Slot 3 (0.08) then slot 1 (0.05); frame 2 of both stays empty.
  np.testing.assert_array_equal(selected, slots[[3, 1]].astype(np.float32))
  assert not selected[:, 2].any()
  # The energy ignores empty frames: removing them changes nothing.
  present = [f for f in range(6) if f != 2]
  assert ntu_raw_0x.body_energy(slots[3:4])[0] == pytest.approx(_energy(slots[3, present]), rel=1e-12)


def test_single_body_file_gets_an_all_zero_second_person(sample_data):
  seq = ntu_raw.parse_skeleton_file(sample_data.path(f'ntu_raw/{SINGLE[4]}.skeleton'))
  selected = ntu_raw_0x.select_bodies(seq)
  np.testing.assert_array_equal(selected[0], seq.by_slot()[0].astype(np.float32))
  assert selected.shape == (2, 124, 25, 3) and not selected[1].any()


# ----- rotation helpers, by hand -----

def test_rotation_matrix_hand_computed():
  np.testing.assert_allclose(ntu_raw_0x.rotation_matrix([0, 0, 1], math.pi / 2),
                             [[0, -1, 0], [1, 0, 0], [0, 0, 1]], atol=1e-15)
  np.testing.assert_allclose(ntu_raw_0x.rotation_matrix([2, 0, 0], math.pi), np.diag([1, -1, -1]), atol=1e-15)
  # Counter-clockwise by 90° about +y takes +z to +x; the axis length does not matter.
  np.testing.assert_allclose(ntu_raw_0x.rotation_matrix([0, 5, 0], math.pi / 2) @ [0, 0, 1], [1, 0, 0],
                             atol=1e-15)
  np.testing.assert_array_equal(ntu_raw_0x.rotation_matrix([0, 0, 0], 1.0), np.eye(3))
  np.testing.assert_array_equal(ntu_raw_0x.rotation_matrix([1, 0, 0], 1e-7), np.eye(3))
  c, s = math.cos(0.3), math.sin(0.3)
  np.testing.assert_allclose(ntu_raw_0x.rotation_matrix([1, 0, 0], 0.3), [[1, 0, 0], [0, c, -s], [0, s, c]],
                             atol=1e-15)


def test_angle_between_hand_computed_and_never_nan():
  assert ntu_raw_0x.angle_between([1, 0, 0], [0, 1, 0]) == pytest.approx(math.pi / 2)
  assert ntu_raw_0x.angle_between([1, 0, 0], [1, 0, 0]) == 0.0
  assert ntu_raw_0x.angle_between([1, 0, 0], [-1, 0, 0]) == pytest.approx(math.pi)
  assert ntu_raw_0x.angle_between([1, 1, 0], [0, 0, 1]) == pytest.approx(math.pi / 2)
  assert ntu_raw_0x.angle_between(np.zeros(3, np.float32), [0, 0, 1]) == 0.0
  assert ntu_raw_0x.angle_between([1e-7, 0, 0], [0, 0, 1]) == 0.0
  # float32 unit vectors can have a dot product just above 1; the clip keeps arccos finite.
  rng = np.random.default_rng(1)
  for v in rng.normal(size=(200, 3)).astype(np.float32):
    angle = ntu_raw_0x.angle_between(v, v)
    assert math.isfinite(angle) and angle < 1e-3


def test_axis_angle_rotation_aligns_a_bone_but_not_an_opposite_one():
  rng = np.random.default_rng(2)
  for v in rng.normal(size=(20, 3)):
    for target in ([0, 0, 1], [1, 0, 0]):
      r = ntu_raw_0x.rotation_matrix(np.cross(v, target), ntu_raw_0x.angle_between(v, target))
      np.testing.assert_allclose(r @ v, np.linalg.norm(v) * np.asarray(target), atol=1e-12)
      np.testing.assert_allclose(r @ r.T, np.eye(3), atol=1e-12)
  # Exactly opposite: the cross product is zero, so the reference leaves it unrotated.
  opposite = ntu_raw_0x.rotation_matrix(np.cross([0, 0, -1], [0, 0, 1]), math.pi)
  np.testing.assert_array_equal(opposite, np.eye(3))


# ----- pre_normalization -----

def _aligned_person(rng, num_frames):
  """``[F, 25, 3]`` whose frame 0 already has joint0->1 along +z and joint4->8 along +x (rotations = I)."""
  x = rng.normal(0, 0.3, (num_frames, 25, 3)).astype(np.float32) + np.float32(2.0)
  x[0, 0] = x[0, 1] - np.float32([0, 0, 0.25])
  x[0, 8] = x[0, 4] + np.float32([0.375, 0, 0])
  return x


def test_pre_normalization_shifts_pads_by_looping_and_subtracts_center():
  rng = np.random.default_rng(3)
  t = 12
  p0 = _aligned_person(rng, 5)
  p1 = rng.normal(0, 0.3, (4, 25, 3)).astype(np.float32) + np.float32(1.0)
  p1[1, 7] = 0  # a missing joint stays zero: only non-zero joints are centred
  data = np.zeros((2, t, 25, 3), np.float32)
  data[0, :5] = p0
  data[1, 3:7] = p1  # leading empty frames: moved to the front
  out = ntu_raw_0x.pre_normalization(data)
  looped0 = p0[np.arange(t) % 5]
  looped1 = p1[np.arange(t) % 4]
  center = looped0[:, 1:2]
  np.testing.assert_array_equal(out[0], looped0 - center)
  want1 = looped1 - center
  want1[np.arange(t) % 4 == 1, 7] = 0
  np.testing.assert_array_equal(out[1], want1)
  assert not out[0, :, 1].any()
  np.testing.assert_array_equal(data[1, :3], 0)  # the input is not modified


def test_pre_normalization_fills_only_the_trailing_empty_run():
  rng = np.random.default_rng(4)
  p0 = _aligned_person(rng, 6)
  p0[3] = 0  # a gap followed by data stays a gap
  data = np.zeros((2, 10, 25, 3), np.float32)
  data[0, :6] = p0
  out = ntu_raw_0x.pre_normalization(data)
  looped = p0[np.arange(10) % 6]
  centred = (looped - looped[:, 1:2]) * (looped != 0).any(-1, keepdims=True)
  np.testing.assert_array_equal(out[0], centred)
  assert not out[0, 3].any() and not out[0, 9].any()  # frame 9 repeats the gap at frame 3
  assert not out[1].any()  # an all-zero person stays zero


def test_pre_normalization_edge_cases_and_batch():
  empty = np.zeros((2, 7, 25, 3), np.float32)
  np.testing.assert_array_equal(ntu_raw_0x.pre_normalization(empty), empty)
  rng = np.random.default_rng(5)
  batch = np.zeros((3, 2, 20, 25, 3), np.float32)
  batch[0, 0, 2:9] = rng.normal(size=(7, 25, 3))
  batch[0, 1, :20] = rng.normal(size=(20, 25, 3))
  batch[2, 0, :4] = rng.normal(size=(4, 25, 3))
  out = ntu_raw_0x.pre_normalization(batch)
  assert out.shape == batch.shape and out.dtype == np.float32 and np.isfinite(out).all()
  for n in range(3):
    np.testing.assert_array_equal(out[n], ntu_raw_0x.pre_normalization(batch[n]))
  assert not out[1].any()
  with pytest.raises(ValueError, match=r'\[N, M, T, V, C\]'):
    ntu_raw_0x.pre_normalization(np.zeros((7, 25, 3)))
  # Zero frames in, zero frames out.
  assert ntu_raw_0x.normalize_bodies(np.zeros((2, 0, 25, 3), np.float32)).shape == (2, 0, 25, 3)


def _assert_rigid(before, after):
  """Per frame, distances between present joints (both persons together) are unchanged."""
  for t in range(before.shape[1]):
    pts_b, pts_a = before[:, t].reshape(-1, 3), after[:, t].reshape(-1, 3)
    present = np.abs(pts_b).sum(-1) > 0
    d_b = np.linalg.norm(pts_b[present, None] - pts_b[None, present], axis=-1)
    d_a = np.linalg.norm(pts_a[present, None] - pts_a[None, present], axis=-1)
    np.testing.assert_allclose(d_a, d_b, atol=2e-6)


@pytest.mark.parametrize('name', ('S001C003P008R002A058',) + SINGLE)
def test_records_of_real_files_satisfy_the_invariants(sample_data, name):
  seq = ntu_raw.parse_skeleton_file(sample_data.path(f'ntu_raw/{name}.skeleton'))
  record = ntu_raw_0x.to_record(seq)
  num_frames = len(seq.frames)
  kp = record['keypoint']
  assert kp.shape == (2, num_frames, 25, 3) and kp.dtype == np.float32
  assert record['total_frames'] == num_frames and record['frame_dir'] == name
  assert record['label'] == ntu_splits.parse_name(name).label
  assert record['img_shape'] == record['original_shape'] == (1080, 1920)
  # Person 0's spine middle is the origin of every frame.
  assert not kp[0, :, ntu_raw_0x.CENTER_JOINT].any()
  # The last rotation puts frame 0's x[8] - x[4] (person 0) on +x.
  shoulder = kp[0, 0, 8] - kp[0, 0, 4]
  assert shoulder[0] > 0.1 and np.abs(shoulder[1:]).max() < 1e-6
  # Stopping after the +z rotation (a zero x bone means no x rotation) shows x[1] - x[0] on +z.
  selected = ntu_raw_0x.select_bodies(seq)
  buffer = np.zeros((2, 300, 25, 3), np.float32)
  buffer[:, :num_frames] = selected
  z_only = ntu_raw_0x.pre_normalization(buffer, xaxis=(0, 0))[:, :num_frames]
  spine = z_only[0, 0, 1] - z_only[0, 0, 0]
  assert spine[2] > 0.1 and np.abs(spine[:2]).max() < 1e-6
  # Rotations and per-frame translations only: every frame keeps its shape.
  _assert_rigid(selected, kp)
  if name in SINGLE:
    assert not kp[1].any()
  else:
    assert kp[1].any()


# ----- CLI and builders -----

def _skeleton_folder(sample_data, tmp_path):
  folder = tmp_path / 'nturgb+d_skeletons'
  folder.mkdir(parents=True)
  for path in _real_files(sample_data):
    (folder / path.name).symlink_to(path)
  return folder


def test_cli_style_mmaction0x(sample_data, tmp_path):
  folder = _skeleton_folder(sample_data, tmp_path)
  out = tmp_path / 'ntu60_3d_0x.pkl'
  result = subprocess.run([sys.executable, '-m', 'skeljax.tools.ntu_to_pickle', f'--skeleton_dir={folder}',
                           f'--out={out}', '--dataset=ntu60', '--style=mmaction0x', '--num_workers=2'],
                          capture_output=True, text=True, check=True)
  assert '6 records' in result.stdout and 'persons {2: 6}' in result.stdout
  with open(out, 'rb') as f:
    raw = pickle.load(f)
  direct = ntu_raw_0x.convert_ntu_dir(folder, 'ntu60')
  assert raw['split'] == direct['split']
  assert [r['frame_dir'] for r in raw['annotations']] == sorted(p.stem for p in _real_files(sample_data))
  for loaded, ours in zip(raw['annotations'], direct['annotations']):
    assert loaded['keypoint'].dtype == np.float32 and loaded['img_shape'] == (1080, 1920)
    np.testing.assert_array_equal(loaded['keypoint'], ours['keypoint'])
  val = annotations.load_annotations(out, 'xsub_val', num_joints='nturgb+d', num_classes=60)
  assert sorted(r['frame_dir'] for r in val) == sorted(raw['split']['xsub_val'])
  # The default style is unchanged (PySKL), and 0.x style is 3D only.
  pyskl = subprocess.run([sys.executable, '-m', 'skeljax.tools.ntu_to_pickle', f'--skeleton_dir={folder}',
                          f'--out={tmp_path / "p.pkl"}'], capture_output=True, text=True, check=True)
  assert 'persons {1: 5, 2: 1}' in pyskl.stdout
  bad = subprocess.run([sys.executable, '-m', 'skeljax.tools.ntu_to_pickle', f'--skeleton_dir={folder}',
                        f'--out={tmp_path / "q.pkl"}', '--style=mmaction0x', '--modality=2d'],
                       capture_output=True, text=True)
  assert bad.returncode != 0 and '3D skeletons only' in bad.stderr


def test_builder_xview_3d_0x_from_raw_files(sample_data, tmp_path):
  from data_builders import build as build_lib  # pylint: disable=import-outside-toplevel
  from skeljax.data import sources  # pylint: disable=import-outside-toplevel
  folder = _skeleton_folder(sample_data, tmp_path / 'manual')
  build_lib.build('ntu60/xview_3d_0x', data_dir=tmp_path / 'data', manual_dir=tmp_path / 'manual')
  names = {p.stem: p for p in _real_files(sample_data)}
  for split, camera_ok in (('train', lambda n: n[5:8] != '001'), ('val', lambda n: n[5:8] == '001')):
    source = sources.open_source('ntu60/xview_3d_0x', split, data_dir=tmp_path / 'data')
    got = {r['frame_dir']: r for r in (source[i] for i in range(len(source)))}
    assert sorted(got) == sorted(n for n in names if camera_ok(n))
    for name, r in got.items():
      want = ntu_raw_0x.convert_file(folder / f'{name}.skeleton')
      np.testing.assert_array_equal(r['keypoint'], want['keypoint'])
      assert r['total_frames'] == want['total_frames'] and r['label'] == want['label']
      assert tuple(r['img_shape']) == (1080, 1920)


def test_builder_xset_3d_0x_reads_the_0x_scripts_list_pickles(sample_data, tmp_path):
  from data_builders import build as build_lib  # pylint: disable=import-outside-toplevel
  from skeljax.data import sources  # pylint: disable=import-outside-toplevel
  records = [ntu_raw_0x.convert_file(p) for p in _real_files(sample_data)]
  # gen_ntu_rgbd_raw.py's layout: <out_folder>/xsetup/{train,val}.pkl, lists of records (odd setups validate).
  os.makedirs(tmp_path / 'manual' / 'xsetup')
  for split, parity in (('train', 0), ('val', 1)):
    with open(tmp_path / 'manual' / 'xsetup' / f'{split}.pkl', 'wb') as f:
      pickle.dump([r for r in records if int(r['frame_dir'][1:4]) % 2 == parity], f)
  build_lib.build('ntu120/xset_3d_0x', data_dir=tmp_path / 'data', manual_dir=tmp_path / 'manual')
  source = sources.open_source('ntu120/xset_3d_0x', 'train', data_dir=tmp_path / 'data')
  got = [source[i] for i in range(len(source))]
  assert sorted(r['frame_dir'] for r in got) == ['S002C001P003R001A003', 'S004C002P003R001A017']
  for r in got:
    want = next(w for w in records if w['frame_dir'] == r['frame_dir'])
    np.testing.assert_array_equal(r['keypoint'], want['keypoint'])
