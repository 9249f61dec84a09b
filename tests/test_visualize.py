"""`python -m skeljax.tools.visualize`: files are written and show the skeleton where its joints are."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from PIL import Image

from skeljax.tools import visualize

# A standing COCO-17 pose in a 100 x 100 image (x right, y down).
POSE = np.array([[50, 10], [54, 7], [46, 7], [58, 9], [42, 9], [64, 25], [36, 25], [70, 42], [30, 42],
                 [72, 58], [28, 58], [60, 58], [40, 58], [62, 78], [38, 78], [63, 95], [37, 95]], np.float32)


def _record(num_frame=6):
  keypoint = np.stack([POSE + [2.0 * t, 0] for t in range(num_frame)])[None]  # [1, T, 17, 2]
  return dict(frame_dir='walk/cam 1', label=3, total_frames=num_frame, img_shape=(100, 100),
              original_shape=(100, 100), keypoint=keypoint.astype(np.float32),
              keypoint_score=np.full((1, num_frame, 17), 0.9, np.float32))


def _not_background(rgb: np.ndarray) -> np.ndarray:
  return np.any(rgb < 245, axis=-1)


def test_cli_writes_pngs_and_gifs_with_the_skeleton_drawn(tmp_path):
  ann = tmp_path / 'ann.pkl'
  ann.write_bytes(pickle.dumps([_record()]))
  paths = visualize.main([f'--ann={ann}', '--index=0', f'--out={tmp_path / "viz"}', '--panels=3'])
  assert sorted(paths) == sorted(f'{kind}_{ext}' for kind in ('skeleton', 'keypoint_heatmap', 'limb_heatmap')
                                 for ext in ('png', 'gif'))
  for path in paths.values():
    assert path.is_file() and path.parent == tmp_path / 'viz'
    assert path.name.startswith('walk_cam_1_')  # frame_dir made file-name safe
  for kind in ('skeleton', 'keypoint_heatmap', 'limb_heatmap'):
    png = np.asarray(Image.open(paths[f'{kind}_png']).convert('RGB'))
    assert _not_background(png).mean() > 0.005, kind
    gif = Image.open(paths[f'{kind}_gif'])
    assert gif.n_frames == 6 and gif.size == (256, 256)


def test_joints_and_heat_appear_at_the_joint_positions():
  record = _record(num_frame=2)
  fitted = visualize.fit_to_square(record['keypoint'], 256)
  frames = visualize.skeleton_frames(fitted, record['keypoint_score'], [(15, 13), (13, 11)], size=256)
  for v in (0, 9, 15):
    x, y = fitted[0, 1, v].round().astype(int)
    assert _not_background(frames[1, y - 1:y + 2, x - 1:x + 2]).all(), v
  assert not _not_background(frames[1, :8, :8]).any()  # the corner stays empty
  assert _not_background(frames[1]).mean() < 0.2

  volume = np.zeros((1, 16, 16, 3), np.float32)
  volume[0, 4, 5, 1] = 1.0
  rgb = visualize.heatmap_frames(volume, scale=2)
  assert rgb.shape == (1, 32, 32, 3)
  assert _not_background(rgb[0, 8:10, 10:12]).all()
  assert _not_background(rgb[0]).sum() == 4


def test_3d_ntu_record_is_drawn_with_y_up(tmp_path):
  rng = np.random.default_rng(0)
  keypoint = rng.normal(0, 0.3, size=(1, 3, 25, 3)).astype(np.float32)
  keypoint[0, :, 3, 1] = 1.0   # head high in world coordinates
  keypoint[0, :, 15, 1] = -1.0  # left foot low
  fitted = visualize.fit_to_square(keypoint, 100)
  assert (fitted[0, :, 3, 1] < fitted[0, :, 15, 1]).all()  # head above foot in the image
  paths = visualize.render_record(dict(frame_dir='S001C001P001R001A001', keypoint=keypoint), tmp_path,
                                  panels=2)
  assert all(p.is_file() for p in paths.values())


def test_layout_mismatch_is_an_error(tmp_path):
  with pytest.raises(ValueError, match="layout 'nturgb\\+d' has 25 joints, the clip has 17"):
    visualize.render_record(_record(), tmp_path, layout='nturgb+d')


def test_real_ucf101_posec3d_sample(sample_data, tmp_path):
  ann = sample_data.path('paddlevideo_examples/example_UCF101_skeleton.pkl')
  paths = visualize.main([f'--ann={ann}', f'--out={tmp_path}', '--max-frames=4', '--panels=2'])
  skeleton = np.asarray(Image.open(paths['skeleton_png']).convert('RGB'))
  assert _not_background(skeleton).mean() > 0.005
  assert Image.open(paths['limb_heatmap_gif']).n_frames == 4
