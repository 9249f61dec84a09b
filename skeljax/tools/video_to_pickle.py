r"""Videos -> MMAction2 annotation pickle of COCO-17 2D poses (MediaPipe BlazePose, CPU, offline).

  python -m skeljax.tools.video_to_pickle --video a.mp4 [b.mp4 ...] --out poses.pkl \
      (--label N | --labels labels.json) [--split test] [--max_persons 2]

Writes the PySKL layout ``{'split': {split: [frame_dir, ...]}, 'annotations': [...]}`` that the builders
(``custom_skeleton``), ``skeljax.predict`` and ``skeljax.tools.visualize`` read: per video ``frame_dir``
(its file name without extension), ``label``, ``total_frames``, ``img_shape``, ``original_shape``,
``keypoint [M, T, 17, 2]`` (pixels) and ``keypoint_score [M, T, 17]``. Up to ``--max_persons`` people are
tracked per video (BlazePose's Tasks PoseLandmarker, run from the model files inside the mediapipe 0.10.21
wheel); a frame where a person is not found holds zeros with score 0. The pose model runs in its own
environment (``make pose-setup`` -> ``.venv-pose``). ``labels.json`` is ``{"<frame_dir>": label, ...}``.
The pickle appears only once every video is extracted; a video that cannot be used (missing, unreadable,
truncated, nobody in it) stops the run with its name and nothing is written.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import pathlib
import pickle
import sys
import tempfile
from collections.abc import Sequence


def _labels(args, frame_dirs: list[str]) -> list[int]:
  if args.labels is None:
    if args.label < 0:
      raise ValueError(f'--label must be a class index >= 0, got {args.label}')
    return [args.label] * len(frame_dirs)
  path = pathlib.Path(args.labels)
  try:
    table = json.loads(path.read_text())
  except (OSError, json.JSONDecodeError) as e:
    raise ValueError(f'{path}: cannot read the labels JSON: {e}') from e
  if not isinstance(table, dict):
    raise ValueError(f'{path}: expected a JSON object {{"<frame_dir>": label}}, got {type(table).__name__}')
  labels = []
  for name in frame_dirs:
    if name not in table:
      raise ValueError(f'{path}: no label for video {name!r} (keys are file names without extension)')
    label = table[name]
    if isinstance(label, bool) or not isinstance(label, int) or label < 0:
      raise ValueError(f'{path}: label of {name!r} must be a class index >= 0, got {label!r}')
    labels.append(label)
  return labels


def write_pickle_atomically(data, out: pathlib.Path) -> None:
  """Pickles ``data`` to a hidden file beside ``out`` and renames it: ``out`` is complete or absent."""
  out.parent.mkdir(parents=True, exist_ok=True)
  fd, partial = tempfile.mkstemp(dir=out.parent, prefix=f'.{out.name}.', suffix='.partial')
  try:
    with os.fdopen(fd, 'wb') as f:
      pickle.dump(data, f, protocol=4)
      f.flush()
      os.fsync(f.fileno())
    os.replace(partial, out)
  except BaseException:
    pathlib.Path(partial).unlink(missing_ok=True)
    raise


def convert(args) -> dict:
  """Extracts every video and writes ``args.out``; returns the pickled dict."""
  from skeljax.data import annotations  # pylint: disable=g-import-not-at-top
  from skeljax.video import extract, probe  # pylint: disable=g-import-not-at-top
  out = pathlib.Path(args.out)
  if out.suffix != '.pkl':
    raise ValueError(f'{out}: annotation pickles end in .pkl')
  videos = [probe.check_video_file(v) for v in args.video]
  frame_dirs = [v.stem for v in videos]
  repeated = [name for name, n in collections.Counter(frame_dirs).items() if n > 1]
  if repeated:
    raise ValueError(f'videos with the same file name {repeated[0]!r} would share one frame_dir: '
                     + ', '.join(str(v) for v in videos if v.stem == repeated[0]))
  labels = _labels(args, frame_dirs)
  records = []
  for path, label, poses in zip(videos, labels, extract.extract_poses(videos, max_persons=args.max_persons)):
    record = annotations.validate_annotation(dict(poses.record, label=label), source=str(path), num_joints=17)
    present = record['keypoint_score'].sum(axis=-1) > 0  # [M, T]
    print(f'{path}: {record["total_frames"]} frames, {record["keypoint"].shape[0]} person(s); people found '
          f'per frame {dict(sorted(collections.Counter(present.sum(axis=0).tolist()).items()))}; '
          f'{record["total_frames"] / poses.seconds:.1f} frames/s')
    records.append(record)
  data = dict(split={args.split: frame_dirs}, annotations=records)
  write_pickle_atomically(data, out)
  print(f'{out}: {len(records)} records (split {args.split!r}), {sum(r["total_frames"] for r in records)} '
        f'frames, persons {dict(sorted(collections.Counter(r["keypoint"].shape[0] for r in records).items()))}')
  return data


def main(argv: Sequence[str] | None = None) -> int:
  """Command line entry point; returns the exit status."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                   formatter_class=argparse.RawDescriptionHelpFormatter,
                                   epilog='\n'.join(__doc__.splitlines()[1:]))
  parser.add_argument('--video', nargs='+', required=True, help='video files (.mp4, .avi, .mov, .mkv, .webm)')
  parser.add_argument('--out', required=True, help='output annotation pickle (.pkl)')
  label = parser.add_mutually_exclusive_group(required=True)
  label.add_argument('--label', type=int, help='class index of every video')
  label.add_argument('--labels', help='JSON file {"<frame_dir>": label} (frame_dir: file name without extension)')
  parser.add_argument('--split', default='test', help='split name listing every video (default: test)')
  parser.add_argument('--max_persons', type=int, default=2,
                      help='people tracked per video, several at once (default: 2, as the NTU GCN configs read)')
  args = parser.parse_args(argv)
  from skeljax.video.pose_env import PoseEnvironmentError  # pylint: disable=g-import-not-at-top
  try:
    convert(args)
  except (FileNotFoundError, ValueError, PoseEnvironmentError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  sys.exit(main())
