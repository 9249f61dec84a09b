"""Real videos through the pose environment: ``video_to_pickle`` and ``predict --input <video>``.

MMAction2's ``demo_skeleton.mp4`` (72 frames, 1920x1080, two people meet and shake hands) is extracted once;
the checks are what can be known of real footage without ground-truth poses: both people are found in most
frames, the geometry is a person's (head above hips, left and right on consistent sides, each person stays
in its slot), keypoints lie in the frame, and the pickle is one every tool reads. Bad videos fail naming the
file and write nothing. Needs the pose environment: ``make test`` sets it up and sets SKELJAX_POSE_PYTHON,
which turns a missing environment into a failure; without it these tests skip when ``.venv-pose`` is absent.
"""

import json
import os
import re
import subprocess

import numpy as np
import pytest
from flax import nnx

from skeljax import predict
from skeljax.checkpoint import convert
from skeljax.data import annotations
from skeljax.label_maps import NTU120_NAMES
from skeljax.models import create_model
from skeljax.tools import video_to_pickle
from skeljax.video import blazepose, pose_env, probe, windows

DEMO = 'videos/demo_skeleton.mp4'
HANDSHAKING = 57  # NTU RGB+D 120 A058, the interaction MMAction2's demo reports for this video
NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP = 0, 5, 6, 11, 12


@pytest.fixture(scope='module')
def pose_python():
  try:
    return pose_env.pose_python()
  except pose_env.PoseEnvironmentError as e:
    if os.environ.get(pose_env.ENV_VAR):
      pytest.fail(str(e))
    pytest.skip(str(e))


def _in_pose_env(python, script: str, *args) -> dict:
  """Runs a Python snippet in the pose environment; it prints one JSON object."""
  env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
  env.update(PYTHONPATH=str(pose_env.REPO), GLOG_minloglevel='2')
  done = subprocess.run([str(python), '-c', script, *map(str, args)], capture_output=True, text=True, env=env,
                        timeout=300, check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.fixture(scope='module')
def extracted(pose_python, sample_data, tmp_path_factory):
  """(pickle path, CLI stdout, the record as ``load_annotations`` reads it) for demo_skeleton.mp4."""
  out = tmp_path_factory.mktemp('video_to_pickle') / 'demo.pkl'
  import contextlib  # pylint: disable=import-outside-toplevel
  import io  # pylint: disable=import-outside-toplevel
  stdout = io.StringIO()
  with contextlib.redirect_stdout(stdout):
    status = video_to_pickle.main(['--video', str(sample_data.path(DEMO)), '--out', str(out),
                                   '--label', str(HANDSHAKING)])
  assert status == 0
  records = annotations.load_annotations(out, 'test')
  assert len(records) == 1
  return out, stdout.getvalue(), records[0]


def test_pickle_is_an_annotation_file(extracted):
  out, printed, record = extracted
  assert record['frame_dir'] == 'demo_skeleton' and record['label'] == HANDSHAKING
  assert record['total_frames'] == 72 and record['img_shape'] == record['original_shape'] == (1080, 1920)
  assert record['keypoint'].shape == (2, 72, 17, 2) and record['keypoint'].dtype == np.float32
  assert record['keypoint_score'].shape == (2, 72, 17)
  assert re.search(r'demo_skeleton.mp4: 72 frames, 2 person\(s\); people found per frame \{.*\}; '
                   r'[\d.]+ frames/s', printed)
  assert sorted(p.name for p in out.parent.iterdir()) == ['demo.pkl']  # no partial file left behind


def test_both_people_found_in_most_frames(extracted):
  _, _, record = extracted
  present = record['keypoint_score'].sum(axis=-1) > 0  # [M, T]
  assert present.any(axis=0).all()  # someone in every frame
  both = present.all(axis=0).mean()
  assert both >= 0.5, f'both people found in only {both:.0%} of the frames'
  # A frame without a person holds zero keypoints with score 0.
  assert np.all(record['keypoint'][~present] == 0)


def test_keypoints_have_a_persons_geometry(extracted):
  _, _, record = extracted
  keypoint, score = record['keypoint'], record['keypoint_score']
  h, w = record['img_shape']
  assert np.all((keypoint[..., 0] >= 0) & (keypoint[..., 0] <= w - 1))
  assert np.all((keypoint[..., 1] >= 0) & (keypoint[..., 1] <= h - 1))
  assert np.all((score >= 0) & (score <= 1))
  for m in range(2):
    seen = (score[m][:, [NOSE, L_SHOULDER, R_SHOULDER, L_HIP, R_HIP]] > 0.5).all(axis=1)
    assert seen.sum() >= 20, f'person {m}: head, shoulders and hips seen in only {seen.sum()} frames'
    kp = keypoint[m, seen]
    hips = kp[:, [L_HIP, R_HIP]].mean(axis=1)
    shoulders = kp[:, [L_SHOULDER, R_SHOULDER]].mean(axis=1)
    assert np.all(kp[:, NOSE, 1] < shoulders[:, 1]) and np.all(shoulders[:, 1] < hips[:, 1])  # head up
    # Left and right are the person's: shoulders and hips lie on the same side whichever way they face.
    same_side = np.sign(kp[:, L_SHOULDER, 0] - kp[:, R_SHOULDER, 0]) == np.sign(kp[:, L_HIP, 0] - kp[:, R_HIP, 0])
    assert same_side.mean() >= 0.9
    # Each slot is one person: the hip centre never jumps between consecutive frames (no identity swap).
    frames = np.flatnonzero(seen)
    steps = np.linalg.norm(np.diff(hips, axis=0), axis=1)[np.diff(frames) == 1]
    assert steps.max() < 0.05 * w, f'person {m}: hip centre jumps {steps.max():.0f} px in one frame'
  # Two different people: their hip centres are apart wherever both are seen.
  both = (score[:, :, [L_HIP, R_HIP]] > 0.5).all(axis=(0, 2))
  centres = keypoint[:, both][:, :, [L_HIP, R_HIP]].mean(axis=2)
  assert np.all(np.linalg.norm(centres[0] - centres[1], axis=-1) > 50)


def test_visualize_reads_the_pickle(extracted, tmp_path):
  from skeljax.tools import visualize  # pylint: disable=import-outside-toplevel
  _, _, record = extracted
  paths = visualize.render_record(record, tmp_path, max_frames=6, panels=3, size=96, heatmap_size=32)
  assert paths['skeleton_png'].stat().st_size > 0 and paths['limb_heatmap_gif'].stat().st_size > 0


_COMPARE_WITH_LEGACY = '''
import json, sys
import mediapipe as mp
import numpy as np
from skeljax.video.landmarker import BlazePose
from skeljax.video.reader import VideoReader
frame = next(iter(VideoReader(sys.argv[1]).frames()))
crop = np.ascontiguousarray(frame[:, 540:1260])  # the person on the right, alone in the crop
h, w = crop.shape[:2]
with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as legacy:
  found = legacy.process(crop).pose_landmarks
legacy_xy = np.array([[p.x * w, p.y * h] for p in found.landmark])
tasks = BlazePose(1).detect(crop)
# num_poses is honoured: both people of a wider crop with 2, the more confident one with 1.
both = np.ascontiguousarray(frame[:, 480:1440])
counts = [len(BlazePose(n, min_detection=0.3).detect(both)) for n in (1, 2)]
print(json.dumps({'people': len(tasks), 'diff': np.abs(tasks[0].xy - legacy_xy).tolist(), 'counts': counts}))
'''


def test_tasks_landmarker_reproduces_the_legacy_solution(pose_python, sample_data):
  """The bundle made from the wheel's files (plus normalisation metadata) gives the legacy Pose's landmarks."""
  result = _in_pose_env(pose_python, _COMPARE_WITH_LEGACY, sample_data.path(DEMO))
  diff = np.array(result['diff'])
  assert result['people'] == 1 and diff.shape == (33, 2)
  assert np.median(diff) < 0.5 and diff.max() < 5, f'pixels: median {np.median(diff):.2f}, max {diff.max():.2f}'
  assert result['counts'] == [1, 2]


_MAKE_VIDEOS = '''
import json, sys
import cv2
import numpy as np
folder = sys.argv[1]
rng = np.random.default_rng(0)
writer = cv2.VideoWriter(folder + '/empty_room.avi', cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
for _ in range(12):
  writer.write(np.full((120, 160, 3), 128, np.uint8))
writer.release()
writer = cv2.VideoWriter(folder + '/noise.avi', cv2.VideoWriter_fourcc(*'MJPG'), 10, (160, 120))
for _ in range(30):
  writer.write(rng.integers(0, 256, (120, 160, 3), dtype=np.uint8))
writer.release()
data = open(folder + '/noise.avi', 'rb').read()
open(folder + '/cut.avi', 'wb').write(data[:len(data) * 6 // 10])
print(json.dumps({}))
'''


def test_bad_videos_fail_naming_the_file_and_write_nothing(pose_python, tmp_path, capsys):
  _in_pose_env(pose_python, _MAKE_VIDEOS, tmp_path)
  (tmp_path / 'text.mp4').write_bytes(b'this is a text file, not a video\n' * 10)
  out = tmp_path / 'out' / 'poses.pkl'
  out.parent.mkdir()
  out.write_bytes(b'previous contents')
  cases = {
      'empty_room.avi': r'empty_room.avi: no person detected in any of its 12 frames',
      'cut.avi': r'cut.avi: truncated or damaged: decoding stopped after 1\d of the 30 frames',
      'text.mp4': r'text.mp4: cannot be opened as a video',
      'missing.mp4': r'video file .*missing.mp4 does not exist',
  }
  for name, message in cases.items():
    assert video_to_pickle.main(['--video', str(tmp_path / name), '--out', str(out), '--label', '0']) == 1
    assert re.search(message, capsys.readouterr().err), name
  assert out.read_bytes() == b'previous contents'  # never replaced by a partial or empty file
  assert [p.name for p in out.parent.iterdir()] == ['poses.pkl']


_COMPARE_FRAMES = '''
import json, sys
import numpy as np
from skeljax.video.reader import VideoReader
source, annotated = (next(iter(VideoReader(p).frames(rgb=False))).astype(int) for p in sys.argv[1:3])
print(json.dumps({'label_box': float(annotated[:8, :200].mean()), 'source_box': float(source[:8, :200].mean()),
                  'median_diff': float(np.median(np.abs(annotated - source).mean(axis=-1)))}))
'''


@pytest.fixture(scope='module')
def gcn_2d(tmp_path_factory):
  """A small COCO-17 2D ST-GCN checkpoint with NTU-120 class names (random weights)."""
  from configs import stgcn_ntu60  # pylint: disable=import-outside-toplevel
  cfg = stgcn_ntu60.get_config('synthetic,2d')
  cfg.model.num_classes = cfg.dataset.num_classes = 120
  cfg.label_names = 'ntu120'
  workdir = tmp_path_factory.mktemp('gcn_2d')
  convert.save_converted(nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(5)))(), workdir, {'source': 'test'})
  return cfg, workdir


def test_predict_on_a_video_end_to_end(pose_python, gcn_2d, extracted, sample_data, tmp_path, capsys):
  cfg, workdir = gcn_2d
  video, out = sample_data.path(DEMO), tmp_path / 'annotated' / 'demo.mp4'
  assert predict.run(str(workdir), str(video), cfg=cfg, out_video=str(out), window=32, stride=16) == 0
  printed = capsys.readouterr().out
  top = re.findall(r'^\s+(\d)\. (.+?)\s+([01]\.\d{4})\s+\(class (\d+)\)$', printed, flags=re.M)
  assert [int(r[0]) for r in top] == [1, 2, 3, 4, 5]
  assert all(NTU120_NAMES[int(c)] == name for _, name, _, c in top)

  fps = probe.decode_videos([video])[0]['fps']
  timeline = re.findall(r'^\s+(\d+\.\d\d)s -\s+(\d+\.\d\d)s  (.+?)\s+([01]\.\d{4})  \(class (\d+)\)$', printed,
                        flags=re.M)
  spans = windows.sliding_windows(72, 32, 16)
  assert [(float(a), float(b)) for a, b, *_ in timeline] == [(round(s / fps, 2), round(e / fps, 2))
                                                             for s, e in spans]
  # Each line is the window's own top-1 (the same poses, as extraction is deterministic).
  predictor = predict.Predictor(workdir, cfg)
  _, _, record = extracted
  for (_, _, name, prob, index), (start, end) in zip(timeline, spans):
    (want_index, want_name, want_prob), = predictor.top_k(windows.window_record(record, start, end), 1)
    assert (int(index), name, float(prob)) == (want_index, want_name, round(want_prob, 4))

  written, = probe.decode_videos([out])
  assert (written['frames'], written['width'], written['height']) == (72, 1920, 1080)
  assert written['fps'] == pytest.approx(fps, rel=1e-3)
  assert [p.name for p in out.parent.iterdir()] == ['demo.mp4']
  frames = _in_pose_env(pose_python, _COMPARE_FRAMES, video, out)
  assert frames['label_box'] < 60 < frames['source_box']  # the label's dark box over the white wall
  assert frames['median_diff'] < 10  # otherwise the same picture (re-encoded)


def test_annotated_video_is_all_or_nothing(pose_python, extracted, sample_data, tmp_path):
  """Poses of 10 frames for a 72-frame video: the render fails naming the video and leaves no file."""
  from skeljax.video import VideoError, render  # pylint: disable=import-outside-toplevel
  _, _, record = extracted
  short = windows.window_record(record, 0, 10)
  with pytest.raises(VideoError, match='demo_skeleton.mp4: has more frames than the 10 its poses'):
    render.write_annotated_video(sample_data.path(DEMO), tmp_path / 'out.mp4', short, ['x'] * 10)
  assert list(tmp_path.iterdir()) == []


def test_predict_video_errors_name_the_file(pose_python, gcn_2d, tmp_path, capsys):
  cfg, workdir = gcn_2d
  (tmp_path / 'text.mov').write_bytes(b'not a movie' * 100)
  assert predict.run(str(workdir), str(tmp_path / 'text.mov'), cfg=cfg) == 1
  assert 'text.mov: cannot be opened as a video' in capsys.readouterr().err
  assert predict.run(str(workdir), str(tmp_path / 'gone.webm'), cfg=cfg, window=8) == 1
  assert 'gone.webm does not exist' in capsys.readouterr().err
  assert predict.run(str(workdir), str(tmp_path / 'text.mov'), cfg=cfg, out_video=str(tmp_path / 'o.gif')) == 1
  assert 'o.gif: the annotated video needs one of the extensions' in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize('family', ['stgcn0x_coco', 'posec3d', 'agcn_2d'])
def test_predict_video_with_full_size_models(family, pose_python, request, sample_data, tmp_path, capsys):
  """MMAction2 checkpoints (0.x ST-GCN on COCO-17 HRNet poses, 1.x PoseC3D), converted, and the 1.x 2s-AGCN
  2D recipe (random weights) classify a video end to end with their test pipelines."""
  from configs import agcn_ntu60, posec3d_ntu60, stgcn_ntu60  # pylint: disable=import-outside-toplevel
  if family == 'agcn_2d':
    cfg = agcn_ntu60.get_config('xsub,joint,2d')
    model = nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(0)))()
  else:
    if family == 'posec3d':
      cfg, fixtures, name, edition = posec3d_ntu60.get_config(), 'parity_1x', 'posec3d_state_dict.pth', '1.x'
    else:
      cfg, fixtures, name, edition = stgcn_ntu60.get_config('0x,2d'), 'parity_0x', 'stgcn0x_coco_state_dict.pth', '0.x'
    model = convert.convert_checkpoint(cfg.model, request.getfixturevalue(fixtures).path(name), edition)
  convert.save_converted(model, tmp_path, {'source': family})
  out = tmp_path / 'annotated.avi'
  assert predict.run(str(tmp_path), str(sample_data.path(DEMO)), cfg=cfg, out_video=str(out)) == 0
  top = re.findall(r'^\s+(\d)\. (.+?)\s+([01]\.\d{4})\s+\(class (\d+)\)$', capsys.readouterr().out, flags=re.M)
  from skeljax.label_maps import NTU60_NAMES  # pylint: disable=import-outside-toplevel
  assert len(top) == 5 and all(NTU60_NAMES[int(c)] == name for _, name, _, c in top)
  assert probe.decode_videos([out])[0]['frames'] == 72
