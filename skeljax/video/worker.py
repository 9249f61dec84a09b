"""The pose environment's entry point: ``.venv-pose/bin/python -m skeljax.video.worker <command> ...``.

Commands (each writes a JSON ``--result``: its outputs, or ``{"error": message}`` with exit status 2 for a
video that cannot be used; anything else is a crash with a traceback on stderr):
  extract --out_dir D --max_persons N VIDEO...  COCO-17 poses per video in ``D/<i>.npz`` (``keypoint``
                                                [M, T, 17, 2], ``keypoint_score`` [M, T, 17])
  render --video V --poses P.npz --labels L.json --out O   V with skeletons and per-frame texts -> O
  probe VIDEO...                                 decodes every frame: frame count, fps, size
Progress lines go to stdout. Run by ``skeljax.video.pose_env``; imports mediapipe and cv2, never JAX.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pathlib
import sys
import time

import numpy as np

from skeljax.video import VideoError, blazepose, tracking

_DEFAULT_FPS = 25.0  # for writing a video whose container states no frame rate


def extract_video(reader, detector, max_persons: int, progress_every: int) -> dict:
  """One opened video -> ``{'keypoint', 'keypoint_score', 'fps', 'total_frames', 'height', 'width'}``."""
  tracker = tracking.PoseTracker(max_persons)
  for frame in reader.frames():
    detections = []
    for box in tracker.crop_boxes(reader.width, reader.height):
      detections += detector.detect(frame, box)
    if tracker.wants_full_frame():
      detections += detector.detect(frame)
    tracker.update(detections)
    if progress_every and tracker.num_frames % progress_every == 0:
      print(f'{reader.path}: {tracker.num_frames}/{reader.declared_frames or "?"} frames', flush=True)
  landmarks, score = tracker.result()
  if landmarks.shape[0] == 0:
    raise VideoError(f'{reader.path}: no person detected in any of its {tracker.num_frames} frames')
  keypoint, keypoint_score = blazepose.to_coco17(landmarks, score)
  keypoint, keypoint_score = blazepose.clip_to_frame(keypoint, keypoint_score, (reader.height, reader.width))
  return dict(keypoint=keypoint, keypoint_score=keypoint_score, fps=reader.fps,
              total_frames=tracker.num_frames, height=reader.height, width=reader.width)


def _extract(args) -> dict:
  from skeljax.video.reader import VideoReader  # pylint: disable=g-import-not-at-top
  # Open every video before loading the model: a file that is no video fails within a second.
  readers = [VideoReader(path) for path in args.videos]
  from skeljax.video.landmarker import BlazePose  # pylint: disable=g-import-not-at-top
  detector = BlazePose(args.max_persons)
  out_dir = pathlib.Path(args.out_dir)
  videos = []
  for i, (path, reader) in enumerate(zip(args.videos, readers)):
    start = time.perf_counter()
    poses = extract_video(reader, detector, args.max_persons, args.progress_every)
    npz = out_dir / f'{i}.npz'
    np.savez(npz, keypoint=poses.pop('keypoint'), keypoint_score=poses.pop('keypoint_score'))
    videos.append(dict(poses, path=path, npz=str(npz), seconds=time.perf_counter() - start))
  detector.close()
  return {'videos': videos}


def _render(args) -> dict:
  from skeljax.video import draw  # pylint: disable=g-import-not-at-top
  from skeljax.video.reader import VideoReader  # pylint: disable=g-import-not-at-top
  from skeljax.video.writer import AtomicVideoWriter  # pylint: disable=g-import-not-at-top
  with np.load(args.poses) as poses:
    keypoint, score = poses['keypoint'], poses['keypoint_score']
  texts = json.loads(pathlib.Path(args.labels).read_text())
  num_frames = keypoint.shape[1]
  if len(texts) != num_frames:
    raise ValueError(f'{args.labels}: {len(texts)} texts for {num_frames} frames of poses')
  reader = VideoReader(args.video)
  frames = reader.frames(rgb=False)
  first = next(frames)  # the writer takes the decoded frame size
  with AtomicVideoWriter(args.out, reader.fps or _DEFAULT_FPS, (reader.width, reader.height)) as writer:
    for t, frame in enumerate(itertools.chain([first], frames)):
      if t >= num_frames:
        raise VideoError(f'{args.video}: has more frames than the {num_frames} its poses were extracted from')
      draw.draw_skeletons(frame, keypoint[:, t], score[:, t])
      draw.draw_label(frame, texts[t])
      writer.write(frame)
    if writer.frames != num_frames:
      raise VideoError(f'{args.video}: decoded {writer.frames} frames, its poses have {num_frames}')
  return {'out': args.out, 'frames': num_frames, 'fps': reader.fps or _DEFAULT_FPS}


def _probe(args) -> dict:
  from skeljax.video.reader import VideoReader  # pylint: disable=g-import-not-at-top
  videos = []
  for path in args.videos:
    reader = VideoReader(path)
    frames = sum(1 for _ in reader.frames(rgb=False))
    videos.append(dict(path=path, frames=frames, declared_frames=reader.declared_frames, fps=reader.fps,
                       height=reader.height, width=reader.width))
  return {'videos': videos}


def main(argv=None) -> int:
  """Runs one command; returns the exit status (0, or 2 for an unusable video)."""
  parser = argparse.ArgumentParser(prog='skeljax.video.worker', description=__doc__.splitlines()[0])
  commands = parser.add_subparsers(dest='command', required=True)
  extract = commands.add_parser('extract')
  extract.add_argument('videos', nargs='+')
  extract.add_argument('--out_dir', required=True)
  extract.add_argument('--max_persons', type=int, default=2)
  extract.add_argument('--progress_every', type=int, default=0)
  render = commands.add_parser('render')
  render.add_argument('--video', required=True)
  render.add_argument('--poses', required=True)
  render.add_argument('--labels', required=True)
  render.add_argument('--out', required=True)
  probe = commands.add_parser('probe')
  probe.add_argument('videos', nargs='+')
  for command in (extract, render, probe):
    command.add_argument('--result', required=True, help='JSON file for the outputs or the error')
  args = parser.parse_args(argv)
  try:
    result, status = {'extract': _extract, 'render': _render, 'probe': _probe}[args.command](args), 0
  except VideoError as e:
    result, status = {'error': str(e)}, 2
  pathlib.Path(args.result).write_text(json.dumps(result))
  return status


if __name__ == '__main__':
  sys.exit(main())
