"""MMAction2 / PySKL skeleton annotation pickles -> validated per-video dicts (spec §1.1).

Two container styles exist: a list of per-video dicts (0.x seed files, one file per split), or
``{'split': {name: [id, ...]}, 'annotations': [...]}`` (0.x UCF/HMDB, all 1.x and PySKL files), where a split
keeps the annotations whose ``filename`` (if the records have one) or ``frame_dir`` is listed. A file holding
one bare per-video dict (PaddleVideo's examples) reads as a one-record list. Stricter than ``PoseDataset``,
which would load them silently: an identifier occurring twice, a split naming a video with no annotation, an
empty split and a file without annotations are errors naming the file (and the split or record).

Kinetics-400 style files are a table of contents: records carry ``frame_inds`` / ``box_score`` / ``valid``
and their keypoints live in per-video ``<frame_dir>.pkl`` kpfiles (``keypoint [N_skeletons, V, 3]``), read
lazily when ``data_prefix`` is given, exactly like 1.x ``PoseDataset(data_prefix=dict(skeleton=...))``.
``decompress.decompress_pose`` turns such a record into the dense ``[M, T, V, 2]`` layout.
"""

from __future__ import annotations

import codecs
import collections
import os
import pickle
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# Box-score thresholds for which Kinetics annotations store a ``valid`` frame count (1.x PoseDataset).
BOX_THRESHOLDS = (0.5, 0.6, 0.7, 0.8, 0.9)


class AnnotationError(ValueError):
  """A malformed annotation file or record; the message names the file and the record."""


def _latin1_encode(text: str, encoding: str = 'latin1') -> bytes:
  # Protocol-2 pickles store numpy's raw bytes as a latin-1 str re-encoded by ``_codecs.encode``. Only that
  # codec is accepted so that the allow-listed callable cannot be turned into a general codec runner.
  if encoding.replace('-', '').replace('_', '').lower() != 'latin1':
    raise pickle.UnpicklingError(f'_codecs.encode with codec {encoding!r} is not allowed')
  return codecs.encode(text, 'latin1')


def _numpy_global(module: str, name: str):
  # numpy 2 renamed numpy.core to numpy._core; pickles written by either name must load under both.
  suffix = module.split('.', 1)[1] if '.' in module else ''
  allowed = {('core.multiarray', '_reconstruct'), ('_core.multiarray', '_reconstruct'),
             ('core.multiarray', 'scalar'), ('_core.multiarray', 'scalar'),
             ('core.numeric', '_frombuffer'), ('_core.numeric', '_frombuffer'), ('', 'ndarray'), ('', 'dtype')}
  if (suffix, name) not in allowed:
    return None
  if name in ('ndarray', 'dtype'):
    return getattr(np, name)
  core = np._core if hasattr(np, '_core') else np.core  # pylint: disable=protected-access
  return getattr(getattr(core, suffix.split('.')[-1]), name)


_BUILTINS = {'dict': dict, 'list': list, 'tuple': tuple, 'set': set, 'frozenset': frozenset, 'int': int,
             'float': float, 'complex': complex, 'str': str, 'bytes': bytes, 'bytearray': bytearray,
             'bool': bool, 'slice': slice}


class _SafeUnpickler(pickle.Unpickler):
  """Unpickler that resolves only numpy array / dtype / scalar reconstruction and plain builtins.

  Annotation pickles are downloaded from the internet and ``pickle.load`` would run any callable they name.
  These files only ever contain builtins and numpy arrays, so everything else is refused outright.
  """

  def find_class(self, module: str, name: str) -> Any:
    if module == 'builtins' and name in _BUILTINS:
      return _BUILTINS[name]
    if module == 'collections' and name == 'OrderedDict':
      return collections.OrderedDict
    if module in ('_codecs', 'codecs') and name == 'encode':
      return _latin1_encode
    if module == 'numpy' or module.startswith(('numpy.core.', 'numpy._core.')):
      found = _numpy_global(module, name)
      if found is not None:
        return found
    raise pickle.UnpicklingError(f'refusing to load global {module}.{name}: annotation pickles may only '
                                 'contain builtins and numpy arrays')


def safe_load_pickle(path: str | os.PathLike) -> Any:
  """Unpickles ``path`` allowing only builtins and numpy arrays; errors name the file."""
  try:
    with open(path, 'rb') as f:
      return _SafeUnpickler(f).load()
  except FileNotFoundError:
    raise
  except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as e:
    raise AnnotationError(f'{path}: cannot read annotation pickle: {e}') from e


def _record_id(record: Mapping) -> str:
  for key in ('frame_dir', 'filename'):
    if isinstance(record, Mapping) and key in record:
      return str(record[key])
  return '<record without frame_dir>'


def _as_int(value, what: str, err) -> int:
  if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
    if isinstance(value, np.ndarray) and value.ndim == 0 and np.issubdtype(value.dtype, np.integer):
      return int(value)
    err(f'{what} must be an integer, got {type(value).__name__} {value!r}')
  return int(value)


def _as_float_array(value, what: str, err) -> np.ndarray:
  array = np.asarray(value)
  if not (np.issubdtype(array.dtype, np.floating) or np.issubdtype(array.dtype, np.integer)):
    err(f'{what} must be numeric, got dtype {array.dtype}')
  array = array.astype(np.float32)
  if not np.all(np.isfinite(array)):
    bad = np.argwhere(~np.isfinite(array))[0].tolist()
    err(f'{what} has NaN/inf values (first at index {bad})')
  return array


def _as_hw(value, what: str, err) -> tuple[int, int]:
  try:
    h, w = (int(v) for v in value)
  except (TypeError, ValueError):
    err(f'{what} must be (h, w), got {value!r}')
  if h <= 0 or w <= 0:
    err(f'{what} must be positive, got {(h, w)}')
  return h, w


def _resolve_num_joints(num_joints: int | str | None) -> int | None:
  if num_joints is None or isinstance(num_joints, int):
    return num_joints
  from skeljax.models.gcn import graph  # pylint: disable=g-import-not-at-top
  return graph.get_layout(num_joints).num_node


def is_compressed(record: Mapping) -> bool:
  """True for Kinetics-style records (``frame_inds`` + per-skeleton keypoints, or keypoints in a kpfile)."""
  return 'frame_inds' in record and ('keypoint' not in record or np.ndim(record['keypoint']) == 3)


def validate_annotation(record: Mapping, *, source: str, num_joints: int | str | None = None,
                        num_classes: int | None = None) -> dict:
  """Checks one per-video dict (spec §1.1) and returns a copy with float32 ``keypoint [M, T, V, C]``.

  ``num_joints`` is V or a graph layout name. Kinetics-style compressed records (``frame_inds``, optional
  ``keypoint [N, V, 3]``) are checked in their own layout. Raises ``AnnotationError`` naming ``source`` and
  the record's ``frame_dir``.
  """
  rid = _record_id(record)

  def err(message: str):
    raise AnnotationError(f'{source}: record {rid!r}: {message}')

  if not isinstance(record, Mapping):
    raise AnnotationError(f'{source}: annotation is a {type(record).__name__}, expected a dict')
  if 'frame_dir' not in record and 'filename' not in record:
    err('missing key frame_dir')
  if 'frame_dir' in record and not isinstance(record['frame_dir'], str):
    err(f'frame_dir must be a str, got {type(record["frame_dir"]).__name__}')
  for key in ('label', 'total_frames'):
    if key not in record:
      err(f'missing key {key}')
  out = dict(record)
  out['label'] = _as_int(record['label'], 'label', err)
  if out['label'] < 0 or (num_classes is not None and out['label'] >= num_classes):
    err(f'label {out["label"]} out of range [0, {num_classes if num_classes is not None else "inf"})')
  out['total_frames'] = _as_int(record['total_frames'], 'total_frames', err)
  if out['total_frames'] < 0:
    err(f'negative total_frames {out["total_frames"]}')
  for key in ('img_shape', 'original_shape'):
    if key in record:
      out[key] = _as_hw(record[key], key, err)
  num_joints = _resolve_num_joints(num_joints)
  if is_compressed(record):
    return _validate_compressed(record, out, num_joints, err)

  if 'keypoint' not in record:
    err('missing key keypoint')
  keypoint = _as_float_array(record['keypoint'], 'keypoint', err)
  if keypoint.ndim != 4:
    err(f'keypoint must have rank 4 [M, T, V, C], got shape {keypoint.shape}')
  persons, frames, joints, channels = keypoint.shape
  if channels not in (2, 3):
    err(f'keypoint must have C = 2 (x, y) or 3 (x, y, z), got shape {keypoint.shape}')
  if num_joints is not None and joints != num_joints:
    err(f'keypoint has V = {joints} joints, the layout needs {num_joints} (shape {keypoint.shape})')
  if persons < 1:
    err(f'keypoint has no person (shape {keypoint.shape})')
  if frames != out['total_frames']:
    err(f'total_frames = {out["total_frames"]} but keypoint has {frames} frames (shape {keypoint.shape})')
  if frames < 1:
    err('keypoint has no frames')
  out['keypoint'] = keypoint
  if 'keypoint_score' in record:
    score = _as_float_array(record['keypoint_score'], 'keypoint_score', err)
    if score.shape != keypoint.shape[:3]:
      err(f'keypoint_score shape {score.shape} does not match keypoint [M, T, V] = {keypoint.shape[:3]}')
    out['keypoint_score'] = score
  return out


def _validate_compressed(record: Mapping, out: dict, num_joints: int | None, err) -> dict:
  frame_inds = np.asarray(record['frame_inds'])
  if frame_inds.ndim != 1 or not np.issubdtype(frame_inds.dtype, np.integer):
    err(f'frame_inds must be a 1-D integer array, got shape {frame_inds.shape} dtype {frame_inds.dtype}')
  if frame_inds.size and frame_inds.min() < 0:
    err(f'frame_inds has negative values (min {frame_inds.min()})')
  if np.any(np.diff(frame_inds) < 0):
    err('frame_inds must be non-decreasing (skeletons are stored frame by frame)')
  num_skeletons = frame_inds.shape[0]
  if 'box_score' in record:
    box_score = _as_float_array(record['box_score'], 'box_score', err)
    if box_score.shape != (num_skeletons,):
      err(f'box_score shape {box_score.shape} does not match frame_inds ({num_skeletons},)')
  if 'valid' in record and not isinstance(record['valid'], Mapping):
    err(f'valid must be a dict {{box_thr: frame count}}, got {type(record["valid"]).__name__}')
  if 'anno_inds' in record:
    anno_inds = np.asarray(record['anno_inds'])
    if anno_inds.dtype == np.bool_ and anno_inds.shape != (num_skeletons,):
      err(f'anno_inds mask shape {anno_inds.shape} does not match frame_inds ({num_skeletons},)')
  if 'keypoint' in record:
    keypoint = _as_float_array(record['keypoint'], 'keypoint', err)
    if keypoint.ndim != 3 or keypoint.shape[-1] != 3:
      err(f'compressed keypoint must be [N_skeletons, V, 3] (x, y, score), got shape {keypoint.shape}')
    if keypoint.shape[0] != num_skeletons:
      err(f'compressed keypoint has {keypoint.shape[0]} skeletons but frame_inds has {num_skeletons}')
    if num_joints is not None and keypoint.shape[1] != num_joints:
      err(f'keypoint has V = {keypoint.shape[1]} joints, the layout needs {num_joints}')
    out['keypoint'] = keypoint
  return out


def _id_key(annotations: list) -> str:
  # Same rule as PoseDataset: the identifier is decided by the first record.
  first = annotations[0] if annotations else None
  return 'filename' if isinstance(first, Mapping) and 'filename' in first else 'frame_dir'


def _check_unique(annotations: list, path: str) -> None:
  """Raises if two records share their identifier (MMAction2 would silently load both)."""
  key, seen = _id_key(annotations), {}
  for i, record in enumerate(annotations):
    if not isinstance(record, Mapping) or key not in record:
      continue  # reported by validation, with the record's position
    name = record[key]
    try:
      first = seen.setdefault(name, i)
    except TypeError:
      raise AnnotationError(f'{path}: annotation #{i}: {key} must be a str, got {type(name).__name__}') from None
    if first != i:
      raise AnnotationError(f'{path}: {key} {name!r} occurs twice (annotations #{first} and #{i}); every '
                            'record must have its own')


def _select_split(data: Any, split: str | None, path: str) -> list:
  if isinstance(data, Mapping) and 'annotations' not in data and 'keypoint' in data:
    # A single per-video dict (e.g. PaddleVideo's example files) is a one-record list.
    data = [data]
  if isinstance(data, Mapping):
    if 'annotations' not in data:
      raise AnnotationError(f'{path}: dict annotation file without an "annotations" key '
                            f'(keys: {sorted(map(str, data))[:10]})')
    annotations = data['annotations']
    if not isinstance(annotations, list):
      raise AnnotationError(f'{path}: "annotations" must be a list, got {type(annotations).__name__}')
    _check_unique(annotations, path)
    if split is None:
      return list(annotations)
    splits = data.get('split')
    if not isinstance(splits, Mapping):
      raise AnnotationError(f'{path}: split {split!r} requested but the file has no "split" dict')
    if split not in splits:
      raise AnnotationError(f'{path}: unknown split {split!r}; available: {sorted(splits)}')
    key, names = _id_key(annotations), splits[split]
    if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) for n in names):
      raise AnnotationError(f'{path}: split {split!r} must be a list of {key} strings')
    if not names:
      raise AnnotationError(f'{path}: split {split!r} is empty (it lists no {key})')
    wanted = set(names)
    selected = []
    for i, record in enumerate(annotations):
      if not isinstance(record, Mapping) or key not in record:
        raise AnnotationError(f'{path}: annotation #{i} has no {key!r} to match split {split!r}')
      if record[key] in wanted:
        selected.append(record)
    missing = wanted - {r[key] for r in selected}
    if missing:
      # PoseDataset skips such names silently, which leaves a smaller split than the file promises.
      names = sorted(map(str, missing))
      raise AnnotationError(f'{path}: split {split!r} lists {len(names)} {key}(s) with no annotation: '
                            f'{", ".join(map(repr, names[:5]))}{", ..." if len(names) > 5 else ""}')
    return selected
  if isinstance(data, list):
    if split is not None:
      raise AnnotationError(f'{path}: file is a list of records (one file per split); split={split!r} '
                            'cannot be applied')
    _check_unique(data, path)
    return list(data)
  raise AnnotationError(f'{path}: expected a list of records or a dict with "annotations", got '
                        f'{type(data).__name__}')


def _filter_valid(records: list, path: str, box_thr: float, valid_ratio: float | None) -> list:
  """1.x ``PoseDataset.filter_data``: drop videos with too few boxes >= box_thr, mark kept skeletons."""
  # PoseDataset silently ignores a non-float valid_ratio; any positive number applies here.
  if valid_ratio is None or valid_ratio <= 0:
    return records
  kept = []
  for record in records:
    rid = _record_id(record)
    if 'valid' not in record or 'box_score' not in record:
      raise AnnotationError(f'{path}: record {rid!r}: valid_ratio filtering needs "valid" and "box_score"')
    if box_thr not in record['valid']:
      raise AnnotationError(f'{path}: record {rid!r}: no valid count for box_thr {box_thr} '
                            f'(has {sorted(record["valid"])})')
    if record['valid'][box_thr] / record['total_frames'] >= valid_ratio:
      record = dict(record)
      record['anno_inds'] = np.asarray(record['box_score']) >= box_thr
      kept.append(record)
  return kept


class KpfileAnnotations(Sequence):
  """Records whose keypoints are read on access from ``<data_prefix>/<frame_dir>.pkl`` (1.x kpfiles)."""

  def __init__(self, records: list, data_prefix: str | os.PathLike, *, source: str,
               num_joints: int | str | None = None, num_classes: int | None = None):
    self.records, self.data_prefix, self.source = records, os.fspath(data_prefix), source
    self.num_joints, self.num_classes = num_joints, num_classes

  def __len__(self) -> int:
    return len(self.records)

  def kpfile(self, index: int) -> str:
    """Path of the kpfile of record ``index``."""
    record = self.records[index]
    name = record['filename'] if 'filename' in record else record['frame_dir']
    return os.path.join(self.data_prefix, f'{name}.pkl')

  def __getitem__(self, index):
    if isinstance(index, slice):
      return [self[i] for i in range(*index.indices(len(self)))]
    path = self.kpfile(index)
    skeleton = safe_load_pickle(path)
    if not isinstance(skeleton, Mapping):
      raise AnnotationError(f'{path}: kpfile must hold a dict (e.g. {{"keypoint": [N, V, 3]}}), got '
                            f'{type(skeleton).__name__}')
    record = dict(self.records[index])
    record.update(skeleton)
    return validate_annotation(record, source=path, num_joints=self.num_joints, num_classes=self.num_classes)


def load_annotations(path: str | os.PathLike, split: str | None = None, *,
                     data_prefix: str | os.PathLike | None = None, box_thr: float = 0.5,
                     valid_ratio: float | None = None, validate: bool = True,
                     num_joints: int | str | None = None, num_classes: int | None = None) -> Sequence[dict]:
  """Reads an MMAction2/PySKL annotation pickle; returns the (validated) records of ``split``.

  ``valid_ratio`` / ``box_thr`` reproduce 1.x ``PoseDataset`` filtering of Kinetics-style records (adds a
  boolean ``anno_inds``). With ``data_prefix`` the result is a ``KpfileAnnotations`` that loads each
  record's kpfile when indexed.
  """
  path = os.fspath(path)
  if box_thr not in BOX_THRESHOLDS:
    raise ValueError(f'box_thr must be one of {BOX_THRESHOLDS}, got {box_thr}')
  if not path.endswith('.pkl'):
    raise AnnotationError(f'{path}: annotation files are pickles ending in .pkl')
  data = safe_load_pickle(path)
  source = path + (f' (split {split!r})' if split else '')
  records = _select_split(data, split, path)
  if not records:
    raise AnnotationError(f'{path}: the file holds no annotations')
  for i, record in enumerate(records):
    if not isinstance(record, Mapping):
      raise AnnotationError(f'{source}: annotation #{i} is a {type(record).__name__}, expected a dict')
  records = _filter_valid(records, source, box_thr, valid_ratio)
  if data_prefix is not None:
    return KpfileAnnotations(records, data_prefix, source=source, num_joints=num_joints,
                             num_classes=num_classes)
  if not validate:
    return records
  return [validate_annotation(r, source=source, num_joints=num_joints, num_classes=num_classes)
          for r in records]
