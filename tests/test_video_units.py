"""The video side's plain parts, in the main environment (no MediaPipe): the BlazePose-33 -> COCO-17 table,
tracking people across frames, sliding windows, file checks (truncated MP4s) and the errors raised before
any pose extraction starts."""

import json
import pathlib
import struct

import numpy as np
import pytest

from skeljax import predict
from skeljax.data import heatmap
from skeljax.tools import video_to_pickle
from skeljax.video import VideoError, blazepose, is_video, pose_env, probe, tracking, windows

DEMO = 'videos/demo_skeleton.mp4'


def test_coco17_table_picks_landmarks_by_name():
  assert len(blazepose.BLAZEPOSE33_NAMES) == 33 and len(blazepose.COCO17_NAMES) == 17
  for coco, landmark in enumerate(blazepose.BLAZEPOSE_TO_COCO17):
    assert blazepose.BLAZEPOSE33_NAMES[landmark] == blazepose.COCO17_NAMES[coco]
  # The COCO order is the one the flip transforms and heatmap limbs assume (HRNet's).
  assert all(blazepose.COCO17_NAMES[i].startswith('left_') for i in heatmap.COCO_LEFT_KP)
  assert all(blazepose.COCO17_NAMES[i].startswith('right_') for i in heatmap.COCO_RIGHT_KP)
  assert blazepose.COCO17_EDGES == heatmap.COCO_LIMBS

  landmarks = np.arange(2 * 3 * 33 * 2, dtype=np.float32).reshape(2, 3, 33, 2)
  score = landmarks[..., 0] / 1000
  keypoint, keypoint_score = blazepose.to_coco17(landmarks, score)
  assert keypoint.shape == (2, 3, 17, 2) and keypoint_score.shape == (2, 3, 17)
  np.testing.assert_array_equal(keypoint[1, 2, 5], landmarks[1, 2, 11])  # left shoulder
  np.testing.assert_array_equal(keypoint[0, 1, 16], landmarks[0, 1, 28])  # right ankle
  np.testing.assert_array_equal(keypoint_score[0, 0, 2], score[0, 0, 5])  # right eye
  with pytest.raises(ValueError, match='33'):
    blazepose.to_coco17(landmarks[..., :17, :], score[..., :17])


def test_keypoints_outside_the_frame_are_unobserved():
  keypoint = np.array([[[10, 20], [-5, 30], [650, 40], [100, 481], [639, 479]]], np.float32)
  score = np.full((1, 5), 0.9, np.float32)
  clipped, clipped_score = blazepose.clip_to_frame(keypoint, score, (480, 640))
  np.testing.assert_array_equal(clipped[0], [[10, 20], [0, 30], [639, 40], [100, 479], [639, 479]])
  np.testing.assert_allclose(clipped_score[0], [0.9, 0, 0, 0, 0.9])


def _person(cx: float, cy: float, score: float = 0.9, height: float = 200.0, seed: int = 0) -> tracking.Pose:
  """A made-up pose: 33 landmarks in a ``height / 3 x height`` box centred at (cx, cy)."""
  offsets = np.random.default_rng(seed).uniform(-0.5, 0.5, (33, 2)) * [height / 3, height]
  return tracking.Pose((np.array([cx, cy]) + offsets).astype(np.float32), np.full(33, score, np.float32))


def test_tracker_keeps_each_person_in_one_slot():
  """Two people walking towards each other, listed in either order, one found twice, one missing a while."""
  tracker = tracking.PoseTracker(2)
  for t in range(20):
    a, b = _person(300 + 5 * t, 400, 0.9, seed=1), _person(700 - 5 * t, 420, 0.8, seed=2)
    detections = [a, b] if t % 2 else [b, a]
    if t == 3:
      detections.append(tracking.Pose(a.xy + 2, a.score - 0.1))  # the same person from another crop
    if 8 <= t < 12:
      detections = [a]  # b hidden for 4 frames (< patience): b keeps its slot
    tracker.update(detections)
  keypoint, score = tracker.result()
  assert keypoint.shape == (2, 20, 33, 2) and score.shape == (2, 20, 33)
  centre_x = keypoint.mean(axis=2)[..., 0]  # [M, T]
  # Slot 0 is the more confident person a (moving right), slot 1 is b (moving left), in every frame.
  np.testing.assert_allclose(centre_x[0], centre_x[0, 0] + 5 * np.arange(20), atol=1e-3)
  seen_b = np.r_[0:8, 12:20]
  np.testing.assert_allclose(centre_x[1, seen_b], centre_x[1, 0] - 5 * seen_b, atol=1e-3)
  assert np.all(score[1, 8:12] == 0) and np.all(keypoint[1, 8:12] == 0)
  np.testing.assert_allclose(score[0, 3], 0.9)  # of the two detections of a, the more confident one


def test_tracker_limits_people_and_gives_stale_slots_away():
  tracker = tracking.PoseTracker(1, patience=3)
  tracker.update([_person(100, 300, 0.6, seed=1), _person(900, 300, 0.95, seed=2)])
  keypoint, score = tracker.result()
  assert keypoint.shape[0] == 1 and score[0, 0, 0] == pytest.approx(0.95)  # the most confident of the two
  for _ in range(5):
    tracker.update([])
  tracker.update([_person(400, 300, 0.7, seed=3)])  # far from the lost person: the slot goes to the newcomer
  keypoint, score = tracker.result()
  assert keypoint.shape == (1, 7, 33, 2) and score[0, 6, 0] == pytest.approx(0.7)
  assert np.all(score[0, 1:6] == 0)
  assert tracking.PoseTracker(2).result()[0].shape == (0, 0, 33, 2)
  with pytest.raises(ValueError, match='max_persons'):
    tracking.PoseTracker(0)


def test_tracker_searches_around_recent_people():
  tracker = tracking.PoseTracker(2, patience=2)
  assert tracker.crop_boxes(640, 480) == [] and tracker.wants_full_frame()
  person = _person(100, 240, height=300)
  tracker.update([person])
  (x0, y0, x1, y1), = tracker.crop_boxes(640, 480)
  box = person.box()
  side = 1.5 * (box[2:] - box[:2]).max()
  centre = (box[:2] + box[2:]) / 2
  assert centre[0] - side / 2 < 0 and x0 == 0  # clipped to the frame
  assert (y0, x1, y1) == (np.floor(centre[1] - side / 2), np.ceil(centre[0] + side / 2),
                          np.ceil(centre[1] + side / 2))
  assert tracker.wants_full_frame()  # one of two people found
  tracker.update([person, _person(500, 240, seed=4)])
  assert len(tracker.crop_boxes(640, 480)) == 2 and not tracker.wants_full_frame()
  for _ in range(3):
    tracker.update([])
  assert tracker.crop_boxes(640, 480) == [] and tracker.wants_full_frame()  # lost for longer than patience


def test_sliding_windows_cover_every_frame():
  assert windows.sliding_windows(72, 32, 16) == [(0, 32), (16, 48), (32, 64), (40, 72)]
  assert windows.sliding_windows(72, 24, 24) == [(0, 24), (24, 48), (48, 72)]
  assert windows.sliding_windows(10, 32, 8) == [(0, 10)]
  for bad in ((72, 0, 4), (72, 8, 0)):
    with pytest.raises(ValueError, match='positive'):
      windows.sliding_windows(*bad)
  nearest = windows.nearest_window([(0, 32), (16, 48), (32, 64), (40, 72)], 72)
  assert nearest[0] == 0 and nearest[23] == 0 and nearest[24] == 1 and nearest[48] == 2 and nearest[71] == 3
  record = dict(frame_dir='v', total_frames=72, keypoint=np.arange(2 * 72 * 17 * 2).reshape(2, 72, 17, 2),
                keypoint_score=np.ones((2, 72, 17)))
  clip = windows.window_record(record, 16, 48)
  assert clip['total_frames'] == 32 and clip['keypoint'].shape == (2, 32, 17, 2)
  np.testing.assert_array_equal(clip['keypoint'][:, 0], record['keypoint'][:, 16])
  assert clip['keypoint_score'].shape == (2, 32, 17) and record['total_frames'] == 72


def test_probe_names_truncated_and_bad_files(sample_data, tmp_path):
  video = sample_data.path(DEMO)
  assert probe.check_video_file(video) == video and is_video('A.MKV') and not is_video('a.pkl')
  cut = tmp_path / 'cut.mp4'
  cut.write_bytes(video.read_bytes()[:300_000])  # a copy that stopped early: the mdat box runs past the end
  with pytest.raises(VideoError, match=r"cut.mp4: truncated: its 'mdat' box declares \d+ bytes"):
    probe.check_video_file(cut)
  boxes = tmp_path / 'nomoov.mp4'  # complete boxes, but the sample tables were never written
  boxes.write_bytes(struct.pack('>I4s', 16, b'ftyp') + b'isom\0\0\0\0' + struct.pack('>I4s', 12, b'mdat') + b'abcd')
  with pytest.raises(VideoError, match='nomoov.mp4: truncated or unfinished: no moov box'):
    probe.check_video_file(boxes)
  empty = tmp_path / 'empty.avi'
  empty.write_bytes(b'')
  with pytest.raises(VideoError, match='empty.avi: empty file'):
    probe.check_video_file(empty)
  with pytest.raises(FileNotFoundError, match='missing.mp4'):
    probe.check_video_file(tmp_path / 'missing.mp4')
  with pytest.raises(VideoError, match=r'notes.txt: not a video file name; expected one of \.mp4'):
    probe.check_video_file(tmp_path / 'notes.txt')


def test_missing_pose_environment_says_how_to_set_it_up(sample_data, tmp_path, monkeypatch, capsys):
  monkeypatch.setenv(pose_env.ENV_VAR, str(tmp_path / 'nowhere' / 'python'))
  with pytest.raises(pose_env.PoseEnvironmentError, match='make pose-setup'):
    pose_env.pose_python()
  out = tmp_path / 'poses.pkl'
  assert video_to_pickle.main(['--video', str(sample_data.path(DEMO)), '--out', str(out), '--label', '0']) == 1
  assert 'make pose-setup' in capsys.readouterr().err and not out.exists()


def test_video_to_pickle_checks_its_arguments_before_extracting(sample_data, tmp_path, capsys):
  video = sample_data.path(DEMO)
  out = tmp_path / 'poses.pkl'
  labels = tmp_path / 'labels.json'
  labels.write_text(json.dumps({'other_video': 3}))
  assert video_to_pickle.main(['--video', str(video), '--out', str(out), '--labels', str(labels)]) == 1
  assert "labels.json: no label for video 'demo_skeleton'" in capsys.readouterr().err
  assert video_to_pickle.main(['--video', str(video), str(video), '--out', str(out), '--label', '1']) == 1
  assert "same file name 'demo_skeleton'" in capsys.readouterr().err
  assert video_to_pickle.main(['--video', str(video), '--out', str(tmp_path / 'poses.json'), '--label', '1']) == 1
  assert 'poses.json: annotation pickles end in .pkl' in capsys.readouterr().err
  with pytest.raises(SystemExit):  # exactly one of --label / --labels
    video_to_pickle.main(['--video', str(video), '--out', str(out)])
  assert not list(tmp_path.glob('*.pkl*')) and not list(tmp_path.glob('.*'))


def test_predict_refuses_video_options_and_models_that_do_not_fit(tmp_path, capsys):
  from configs import posec3d_ntu60, stgcn_ntu60  # pylint: disable=import-outside-toplevel
  assert predict.run(str(tmp_path), str(tmp_path / 'clips.pkl'), out_video=str(tmp_path / 'a.mp4')) == 1
  assert 'clips.pkl: --out_video and --window need a video input' in capsys.readouterr().err
  with pytest.raises(ValueError, match=r'a.mp4: a video gives COCO-17 2D keypoints, but the model reads 25 '
                                       r'joints in 3D'):
    predict.check_video_model(stgcn_ntu60.get_config('xsub,joint,3d'), pathlib.Path('a.mp4'))
  predict.check_video_model(stgcn_ntu60.get_config('xsub,joint,2d'), 'a.mp4')
  predict.check_video_model(posec3d_ntu60.get_config(), 'a.mp4')
