"""Raw NTU RGB+D ``.skeleton`` files (spec §1.3) -> PySKL-style records (spec §1.4, "PySKL" steps 1-7).

``parse_skeleton_file`` reads every body of every frame (bodyID and the 12 per-joint values, as float64
exactly as written); a malformed line, or a non-finite x, y or z, is an error naming the file and the line.
``denoise_pyskl`` reproduces PySKL's ``tools/data/ntu_preproc.py``: bodies grouped by Kinect bodyID, short and
"spread" (wider than tall) bodies dropped, the rest ranked by motion and packed into at most two
non-overlapping tracks. ``convert_ntu_dir`` turns a folder into the PySKL pickle layout
``{'split': {...}, 'annotations': [...]}``.
"""

from __future__ import annotations

import concurrent.futures
import dataclasses
import functools
import logging
import os
import pathlib
import re
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from skeljax.data import ntu_splits

NUM_JOINTS = 25
# Per-joint columns of the text format.
JOINT_FIELDS = ('x', 'y', 'z', 'depthX', 'depthY', 'colorX', 'colorY', 'orientationW', 'orientationX',
                'orientationY', 'orientationZ', 'trackingState')
XYZ, COLOR_XY = (0, 1, 2), (5, 6)
NTU_IMG_SHAPE = (1080, 1920)

# PySKL ntu_preproc.py constants.
_EPS = 1e-3
_LENGTH_THRESHOLD = 11
_WH_RATIO = 0.8
_SPREAD_NOISE_RATIO = 0.69754

_NEWLINE = re.compile(r'\r\n|\r|\n')


class NtuFormatError(ValueError):
  """A malformed ``.skeleton`` file; the message names the file and the line."""


@dataclasses.dataclass(frozen=True)
class Body:
  """One tracked body in one frame."""
  body_id: int
  info: np.ndarray    # [9] float64: clippedEdges, hand states/confidences, isRestricted, lean x/y, tracking
  joints: np.ndarray  # [25, 12] float64, columns JOINT_FIELDS
  line: int = 0       # 1-based line of the body line in its file (joint j is on line + 2 + j)


@dataclasses.dataclass(frozen=True)
class SkeletonSequence:
  """All frames of one file; ``frames[f]`` lists the bodies of frame f in file order (may be empty)."""
  name: str
  path: str
  frames: list[list[Body]]

  def by_slot(self, columns: tuple[int, ...] = XYZ) -> np.ndarray:
    """``[B, F, 25, len(columns)]`` float64, body slot = order within the frame (the authors' reader)."""
    slots = max((len(f) for f in self.frames), default=0)
    out = np.zeros((slots, len(self.frames), NUM_JOINTS, len(columns)))
    for f, bodies in enumerate(self.frames):
      for b, body in enumerate(bodies):
        out[b, f] = body.joints[:, columns]
    return out


def _split_lines(text: str) -> list[str]:
  # Universal newlines (\r\n, \r, \n), as the text-mode readline of the dataset authors' and MMAction2's
  # readers splits them; ``str.splitlines`` also splits at \f, \v, \x1c..., shifting later line numbers.
  return _NEWLINE.split(text)


def _first_non_number(fields: list[str]) -> str:
  for value in fields:
    try:
      float(value)
    except ValueError:
      return value
  return ''


def parse_skeleton_file(path: str | os.PathLike) -> SkeletonSequence:
  """Parses one ``.skeleton`` file (CRLF, LF or CR); errors name the file and the 1-based line.

  x, y, z must be finite numbers (``float`` also accepts ``nan`` / ``inf``): they decide body selection in
  every converter. The other columns are kept as written.
  """
  path = os.fspath(path)
  with open(path, 'rb') as f:
    raw = f.read()
  try:
    lines = _split_lines(raw.decode('ascii'))
  except UnicodeDecodeError as e:
    line = len(_split_lines(raw[:e.start].decode('ascii')))
    raise NtuFormatError(f'{path}:{line}: not a text .skeleton file (byte {raw[e.start]:#x})') from e
  while lines and not lines[-1].strip():
    lines.pop()
  cursor = 0  # lines consumed so far: the line just read is line ``cursor`` (1-based)

  def fail(message: str, line: int | None = None):
    raise NtuFormatError(f'{path}:{cursor if line is None else line}: {message}')

  def next_fields(what: str) -> list[str]:
    nonlocal cursor
    if cursor >= len(lines):
      if not lines:
        fail(f'empty file, expected {what}', line=1)
      fail(f'file ends after this line, expected {what}', line=len(lines))
    cursor += 1
    return lines[cursor - 1].split()

  def read_count(what: str) -> int:
    fields = next_fields(what)
    text = ' '.join(fields)
    try:
      (value,) = fields
      value = int(value)
    except ValueError:
      fail(f'expected {what} (one integer), got {text[:40]!r}')
    if value < 0:
      fail(f'negative {what} {value}')
    return value

  frames = []
  for _ in range(read_count('the number of frames')):
    bodies = []
    for _ in range(read_count('the number of bodies')):
      fields = next_fields('a body line')
      body_line = cursor
      if len(fields) != 10:
        fail(f'body line must have 10 values (bodyID + 9), got {len(fields)}')
      try:
        body_id = int(fields[0])
      except ValueError:
        fail(f'bodyID {fields[0]!r} is not an integer')
      try:
        info = np.array(fields[1:], dtype=np.float64)
      except ValueError:
        fail(f'body line value {_first_non_number(fields[1:])!r} is not a number')
      num_joints = read_count('the joint count')
      if num_joints != NUM_JOINTS:
        fail(f'joint count must be {NUM_JOINTS}, got {num_joints}')
      rows = []
      for j in range(NUM_JOINTS):
        # Counted as each line is read, so a file cut inside a joint line is reported at that line.
        row = next_fields(f'joint {j + 1} of {NUM_JOINTS}')
        if len(row) != len(JOINT_FIELDS):
          fail(f'joint line must have {len(JOINT_FIELDS)} values, got {len(row)}')
        rows.append(row)
      first_joint_line = body_line + 2
      try:
        joints = np.array(rows, dtype=np.float64)
      except ValueError:
        j = next(j for j, row in enumerate(rows) if _first_non_number(row))
        fail(f'joint {j + 1} value {_first_non_number(rows[j])!r} is not a number', line=first_joint_line + j)
      finite = np.isfinite(joints[:, XYZ])
      if not finite.all():
        j = int(np.flatnonzero(~finite.all(axis=1))[0])
        fail(f'joint {j + 1} has a non-finite coordinate (x, y, z = {", ".join(rows[j][c] for c in XYZ)})',
             line=first_joint_line + j)
      bodies.append(Body(body_id, info, joints, line=body_line))
    frames.append(bodies)
  if cursor != len(lines):
    fail(f'unexpected extra content after {len(frames)} frames: {lines[cursor][:40]!r}', line=cursor + 1)
  name = pathlib.Path(path).name
  try:
    name = ntu_splits.parse_name(name).name
  except ValueError:
    name = name.split('.')[0]
  return SkeletonSequence(name, path, frames)


def check_finite_columns(seq: SkeletonSequence, columns: tuple[int, ...]) -> None:
  """Raises ``NtuFormatError`` naming the file and line of the first non-finite value in ``columns``."""
  for bodies in seq.frames:
    for body in bodies:
      finite = np.isfinite(body.joints[:, columns])
      if not finite.all():
        j = int(np.flatnonzero(~finite.all(axis=1))[0])
        names = ', '.join(JOINT_FIELDS[c] for c in columns)
        values = ', '.join(repr(float(v)) for v in body.joints[j, columns])
        raise NtuFormatError(f'{seq.path}:{body.line + 2 + j}: joint {j + 1} has a non-finite value '
                             f'({names} = {values})')


def _group_by_body_id(seq: SkeletonSequence) -> list[dict]:
  """PySKL step 1: per bodyID its joints, its first non-empty-frame index and its motion."""
  bodies: dict[int, dict] = {}
  nonempty_index = 0
  for frame in seq.frames:
    if not frame:
      continue  # frames without bodies do not count (PySKL's ``fidx``)
    for body in frame:
      entry = bodies.setdefault(body.body_id, dict(rows=[], start=nonempty_index))
      entry['rows'].append(body.joints)
    nonempty_index += 1
  out = []
  for entry in bodies.values():
    rows = np.stack(entry['rows'])                      # [F_b, 25, 12] float64
    kpt = rows[:, :, XYZ].astype(np.float32)             # PySKL parses x, y, z as float32
    motion = np.sum(np.var(kpt.reshape(-1, 3), axis=0))
    out.append(dict(kpt=kpt, rows=rows, start=entry['start'], motion=motion))
  return out


def _spread_denoise(bodies: list[dict]) -> list[dict]:
  """PySKL step 4: drop bodies mostly wider than tall; lower motion to that of the valid frames."""
  kept = []
  for body in bodies:
    kpt = body['kpt']
    extent = kpt.max(axis=1) - kpt.min(axis=1)            # [F_b, 3] float32
    # PySKL compared float32 scalars with 0.8 * float32 under NumPy 1 promotion, i.e. in float64.
    valid = np.flatnonzero(extent[:, 0].astype(np.float64) <= _WH_RATIO * extent[:, 1].astype(np.float64))
    if len(valid) == kpt.shape[0]:
      kept.append(body)
      continue
    if 1 - len(valid) / kpt.shape[0] >= _SPREAD_NOISE_RATIO:
      continue
    body = dict(body, motion=min(body['motion'], np.sum(np.var(kpt[valid].reshape(-1, 3), axis=0))))
    kept.append(body)
  kept.sort(key=lambda b: -b['motion'])
  return kept


def _non_zero_span(keypoint: np.ndarray) -> tuple[int, int]:
  start, end = 0, keypoint.shape[1]
  while np.sum(np.abs(keypoint[:, start])) < _EPS:
    start += 1
  while np.sum(np.abs(keypoint[:, end - 1])) < _EPS:
    end -= 1
  return start, end


def denoise_pyskl(seq: SkeletonSequence, columns: tuple[int, ...] = XYZ) -> np.ndarray:
  """PySKL ``gen_keypoint_array``: ``[M, T, 25, len(columns)]`` float32, M in {1, 2}.

  Body selection, track packing, trimming and the track swap are decided on x, y, z (float32, as PySKL);
  ``columns`` picks what is written (``COLOR_XY`` gives 2D RGB pixel coordinates of the same tracks).
  """
  bodies = _group_by_body_id(seq)
  if not bodies:
    raise NtuFormatError(f'{seq.path}: no body in any frame (NTU lists such samples as missing skeletons)')

  def values(body):
    return body['kpt'] if columns == XYZ else body['rows'][:, :, columns].astype(np.float32)

  bodies.sort(key=lambda b: -b['motion'])
  if len(bodies) == 1:
    return values(bodies[0])[None]
  bodies = [b for b in bodies if b['kpt'].shape[0] > _LENGTH_THRESHOLD]
  if len(bodies) == 1:
    return values(bodies[0])[None]
  if not bodies:
    raise NtuFormatError(f'{seq.path}: every body is tracked for <= {_LENGTH_THRESHOLD} frames '
                         '(PySKL cannot denoise this sample either)')
  bodies = _spread_denoise(bodies)
  if not bodies:
    raise NtuFormatError(f'{seq.path}: every body fails the spread test (PySKL cannot denoise it either)')
  if len(bodies) == 1:
    return values(bodies[0])[None]

  length = max(b['start'] + b['kpt'].shape[0] for b in bodies)
  xyz = np.zeros((2, length, NUM_JOINTS, 3), np.float32)
  out = np.zeros((2, length, NUM_JOINTS, len(columns)), np.float32)
  first = bodies[0]
  s1, e1 = first['start'], first['start'] + first['kpt'].shape[0]
  s2 = e2 = 0
  xyz[0, s1:e1], out[0, s1:e1] = first['kpt'], values(first)
  for body in bodies[1:]:
    s, e = body['start'], body['start'] + body['kpt'].shape[0]
    # Track spans grow as min/max of what they hold; track 1 starts as the empty span [0, 0), so its span
    # always begins at frame 0 (PySKL's arithmetic, kept so that the same bodies are dropped).
    if max(s1, s) >= min(e1, e):
      xyz[0, s:e], out[0, s:e] = body['kpt'], values(body)
      s1, e1 = min(s, s1), max(e, e1)
    elif max(s2, s) >= min(e2, e):
      xyz[1, s:e], out[1, s:e] = body['kpt'], values(body)
      s2, e2 = min(s, s2), max(e, e2)
  start, end = _non_zero_span(xyz)
  xyz, out = xyz[:, start:end], out[:, start:end]
  if np.sum(np.abs(xyz[0, 0, 1])) < _EPS and np.sum(np.abs(xyz[1, 0, 1])) > _EPS:
    out = out[::-1]
  return np.ascontiguousarray(out)


def to_record(seq: SkeletonSequence, modality: str = '3d', round_float16: bool = True) -> dict:
  """PySKL record ``{frame_dir, label, keypoint [M, T, 25, C] float32, total_frames}`` of one sequence.

  ``modality='3d'`` gives x, y, z metres (C = 3); ``'2d'`` gives colorX, colorY pixels (C = 2) plus
  ``img_shape``. With ``round_float16`` values are rounded as PySKL's float16 pickle stores them.
  """
  if modality not in ('3d', '2d'):
    raise ValueError(f"modality must be '3d' or '2d', got {modality!r}")
  try:
    label = ntu_splits.parse_name(seq.name).label
  except ValueError as e:
    raise NtuFormatError(f'{seq.path}: {e}') from e
  if modality == '2d':
    check_finite_columns(seq, COLOR_XY)
  keypoint = denoise_pyskl(seq, XYZ if modality == '3d' else COLOR_XY)
  if round_float16:
    keypoint = keypoint.astype(np.float16).astype(np.float32)
  record = dict(frame_dir=seq.name, label=label, keypoint=keypoint,
                total_frames=keypoint.shape[1])
  if modality == '2d':
    record['img_shape'] = record['original_shape'] = NTU_IMG_SHAPE
  return record


def _convert_one(path: str, modality: str) -> dict:
  return to_record(parse_skeleton_file(path), modality)


def list_samples(skeleton_dir: str | os.PathLike, dataset: str = 'ntu60') -> dict[str, pathlib.Path]:
  """Sorted ``{name: path}`` of the dataset's ``.skeleton`` files, without the missing-skeleton samples."""
  found = {}
  for path in sorted(pathlib.Path(skeleton_dir).glob('*.skeleton')):
    name = ntu_splits.parse_name(path.name).name
    if name in found:
      raise NtuFormatError(f'{path}: sample {name} also in {found[name]}')
    found[name] = path
  missing = ntu_splits.missing_samples(dataset)
  return {n: p for n, p in found.items() if ntu_splits.in_dataset(n, dataset) and n not in missing}


def select_samples(skeleton_dir: str | os.PathLike, dataset: str,
                   names: Iterable[str] | None = None) -> dict[str, pathlib.Path]:
  """``list_samples``, restricted to ``names`` when given; raises if a name or every file is missing."""
  samples = list_samples(skeleton_dir, dataset)
  if names is not None:
    unknown = sorted(set(names) - set(samples))
    if unknown:
      raise FileNotFoundError(f'{skeleton_dir}: no usable {dataset} file for {unknown[:5]} (absent, not in '
                              f'{dataset}, or listed as missing skeletons)')
    samples = {n: samples[n] for n in names}
  if not samples:
    raise FileNotFoundError(f'no {dataset} .skeleton files in {skeleton_dir}')
  return samples


def map_files(convert_fn: Callable[[str], dict], paths: Sequence[str], num_workers: int = 1) -> list[dict]:
  """``convert_fn`` over files, in order, in ``num_workers`` processes (``convert_fn`` must be picklable)."""
  if num_workers > 1:
    with concurrent.futures.ProcessPoolExecutor(num_workers) as pool:
      return list(pool.map(convert_fn, paths, chunksize=64))
  return [convert_fn(p) for p in paths]


def convert_ntu_dir(skeleton_dir: str | os.PathLike, dataset: str = 'ntu60', *, modality: str = '3d',
                    num_workers: int = 1, names: Iterable[str] | None = None) -> dict:
  """PySKL-layout ``{'split': {...}, 'annotations': [...]}`` for every sample of a raw skeleton folder."""
  samples = select_samples(skeleton_dir, dataset, names)
  annotations = map_files(functools.partial(_convert_one, modality=modality),
                          [str(p) for p in samples.values()], num_workers)
  logging.info('converted %d %s samples from %s', len(annotations), dataset, skeleton_dir)
  return dict(split=ntu_splits.make_splits(samples, dataset), annotations=annotations)
