"""Open a built skeleton dataset by name as a random-access source of MMAction2 results dicts.

``open_source('ntu60/xsub_3d', 'train', data_dir=...)`` reads the array_record files written by
``python -m data_builders.build`` through TFDS's data-source API (no TensorFlow). Each element is the dict the
pipeline transforms expect: ``frame_dir`` (str), ``label`` (int), ``keypoint`` float32 ``[M, T, V, C]``,
``total_frames`` (int), ``keypoint_score [M, T, V]`` and ``img_shape``/``original_shape`` where the dataset has
them, and ``start_index = 0``, ``modality = 'Pose'`` as MMAction2's ``PoseDataset`` sets.

A dataset that is not built, or was built by another version of its builder, raises ``DatasetNotBuiltError``
(``DatasetVersionError``) with the build command. Opening a split opens every shard once, so a missing or
truncated file fails at once; a record that fails to read later (a corrupt chunk) raises ``CorruptShardError``.
Both name the shard file and the command that rebuilds the dataset in place.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import os
import pathlib
import re
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from skeljax.data.third_party import tfds

_NO_IMAGE_SHAPE = (0, 0)


class DatasetNotBuiltError(FileNotFoundError):
  """The requested dataset is not in ``data_dir``; the message holds the command that builds it."""


class DatasetVersionError(DatasetNotBuiltError):
  """``data_dir`` holds the dataset built by another version of its builder; the message says which and how
  to rebuild."""


class CorruptShardError(OSError):
  """An array_record shard of a built dataset cannot be read; the message names the file and the rebuild
  command."""


def default_data_dir() -> str:
  """``$TFDS_DATA_DIR`` or ``~/tensorflow_datasets`` (TFDS's own default)."""
  return os.path.expanduser(os.environ.get('TFDS_DATA_DIR', '~/tensorflow_datasets'))


def to_results(example: Mapping[str, Any]) -> dict[str, Any]:
  """A decoded TFDS example → MMAction2 results dict (Text arrives as bytes, the label as an int)."""
  frame_dir = example['frame_dir']
  results = {
      'frame_dir': frame_dir.decode('utf-8') if isinstance(frame_dir, bytes) else str(frame_dir),
      'label': int(example['label']),
      'keypoint': np.asarray(example['keypoint'], dtype=np.float32),
      'total_frames': int(example['total_frames']),
      'start_index': 0,
      'modality': 'Pose',
  }
  if 'keypoint_score' in example:
    results['keypoint_score'] = np.asarray(example['keypoint_score'], dtype=np.float32)
  img_shape = tuple(int(v) for v in np.asarray(example.get('img_shape', _NO_IMAGE_SHAPE)))
  if img_shape != _NO_IMAGE_SHAPE:
    results['img_shape'] = img_shape
    results['original_shape'] = img_shape
  return results


@dataclasses.dataclass(frozen=True)
class Shard:
  """The records ``[skip, skip + take)`` of one array_record file, which holds ``size`` records in all."""
  path: str
  skip: int
  take: int
  size: int


class SkeletonSource:
  """Random-access source of results dicts over a TFDS data source (picklable, so grain workers can use it).

  A record that cannot be read or decoded raises ``CorruptShardError`` naming its shard file and
  ``rebuild`` (the command that rebuilds the dataset).
  """

  def __init__(self, tfds_source, name: str, split: str, shards: Sequence[Shard] = (), rebuild: str = ''):
    self._source = tfds_source
    self.name, self.split = name, split
    self.shards, self.rebuild = tuple(shards), rebuild
    self._ends = list(itertools.accumulate(shard.take for shard in self.shards))

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, Any]:
    if not 0 <= index < len(self):
      raise IndexError(f'index {index} out of range for {self!r}')
    try:
      return to_results(self._source[index])
    except Exception as e:  # noqa: BLE001 - riegeli, protobuf and decoding errors alike mean a damaged file
      raise self._corrupt(index, e) from e

  def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
    try:
      return [to_results(e) for e in self._source.__getitems__(list(indices))]
    except Exception:  # noqa: BLE001
      # Read one by one to find (and name) the record that fails.
      return [self[i] for i in indices]

  def shard_of(self, index: int) -> tuple[Shard, int] | None:
    """(shard, record position in its file) of dataset index ``index``; None if unknown."""
    k = bisect.bisect_right(self._ends, index)
    if k >= len(self.shards):
      return None
    return self.shards[k], self.shards[k].skip + index - (self._ends[k - 1] if k else 0)

  def _corrupt(self, index: int, error: Exception) -> CorruptShardError:
    found = self.shard_of(index)
    where = f'{found[0].path} (record {found[1]})' if found else f'{self.name} split {self.split!r}'
    return CorruptShardError(f'cannot read record {index} of {self.name} split {self.split!r} from {where}: '
                             f'{type(error).__name__}: {error}\nThe file is damaged (corrupt or truncated). '
                             f'Rebuild the dataset with:\n  {self.rebuild}')

  def __repr__(self) -> str:
    return f'SkeletonSource({self.name!r}, split={self.split!r}, len={len(self)})'


def _build_command(name: str, data_dir: str, overwrite: bool = False) -> str:
  dataset = name.split('/')[0]
  manual = '' if dataset == 'synthetic_skeleton' else ' --manual_dir=<folder with the downloaded files>'
  return f'python -m data_builders.build {name} --data_dir={data_dir}{manual}{" --overwrite" if overwrite else ""}'


def _built_versions(builder: tfds.core.DatasetBuilder) -> list[str]:
  """Versions of this dataset config that are built in its data_dir (folders with a dataset_info.json)."""
  config_dir = pathlib.Path(builder.data_dir).parent
  if not config_dir.is_dir():
    return []
  versions = [p.name for p in config_dir.iterdir()
              if re.fullmatch(r'\d+\.\d+\.\d+', p.name) and (p / 'dataset_info.json').is_file()]
  return sorted(versions, key=lambda v: tuple(map(int, v.split('.'))))


def _resolve_data_dir(data_dir: str | os.PathLike | None) -> str:
  return os.fspath(pathlib.Path(data_dir).expanduser()) if data_dir else default_data_dir()


def load_builder(name: str, *, data_dir: str | os.PathLike | None = None) -> tfds.core.DatasetBuilder:
  """The prepared TFDS builder of ``<dataset>/<config>``; raises ``DatasetNotBuiltError`` if not built."""
  data_dir = _resolve_data_dir(data_dir)
  dataset = name.split('/')[0]
  import data_builders  # pylint: disable=g-import-not-at-top
  if dataset in data_builders.DATASETS:
    data_builders.builder_class(dataset)  # registers the builder so TFDS can find its code
  try:
    builder = tfds.builder(name, data_dir=data_dir)
  except (tfds.core.registered.DatasetNotFoundError, ValueError, AssertionError) as e:
    raise DatasetNotBuiltError(f'Dataset {name!r} is not available in {data_dir} ({e}). Build it with:\n  '
                               f'{_build_command(name, data_dir)}') from e
  if not builder.is_prepared():
    others = _built_versions(builder)
    if others:
      notes = getattr(builder, 'RELEASE_NOTES', {}).get(str(builder.version))
      raise DatasetVersionError(
          f'Dataset {name!r} in {data_dir} was built by builder version {", ".join(others)}, but this skeljax '
          f'reads version {builder.version}{f" (release notes: {notes})" if notes else ""}. Rebuild it with:\n  '
          f'{_build_command(name, data_dir)}\n(then the old version folder(s) under '
          f'{pathlib.Path(builder.data_dir).parent} can be deleted)')
    raise DatasetNotBuiltError(f'Dataset {name!r} has not been built in {data_dir}. Build it with:\n  '
                               f'{_build_command(name, data_dir)}')
  return builder


def _check_shards(shards: Sequence[Shard], rebuild: str) -> None:
  """Opens every shard once: a missing or truncated file fails here, naming it, not hours into training."""
  from array_record.python import array_record_module  # pylint: disable=g-import-not-at-top
  from etils import epath  # pylint: disable=g-import-not-at-top
  for shard in shards:
    problem = None
    if not epath.Path(shard.path).exists():  # epath: a data_dir may be a bucket (gs://...)
      problem = 'the file is missing'
    else:
      try:
        reader = array_record_module.ArrayRecordReader(shard.path, 'readahead_buffer_size:0')
        count = reader.num_records()
        reader.close()
        if count != shard.size:
          problem = f'it holds {count} records, the dataset info says {shard.size}'
      except Exception as e:  # noqa: BLE001 - the reader raises RuntimeError / ValueError on damaged files
        problem = f'{type(e).__name__}: {e}'
    if problem:
      raise CorruptShardError(f'{shard.path}: {problem}. The dataset is damaged (a missing, corrupt or truncated '
                              f'shard); rebuild it with:\n  {rebuild}')


def open_source(name: str, split: str, *, data_dir: str | os.PathLike | None = None) -> SkeletonSource:
  """Opens split ``split`` (TFDS slicing such as ``'train[:10%]'`` works) of a built dataset."""
  builder = load_builder(name, data_dir=data_dir)
  available = list(builder.info.splits.keys())
  base_split = split.split('[')[0]
  if base_split not in available:
    raise ValueError(f'Dataset {name!r} has no split {base_split!r}; splits: {available}')
  shards = [Shard(os.fspath(fi.filename), fi.skip, fi.take, fi.examples_in_shard)
            for fi in builder.info.splits[split].file_instructions]
  rebuild = _build_command(name, _resolve_data_dir(data_dir), overwrite=True)
  _check_shards(shards, rebuild)
  return SkeletonSource(builder.as_data_source(split=split), name, split, shards, rebuild)


def class_names(name: str, *, data_dir: str | os.PathLike | None = None) -> list[str]:
  """The class names of a built dataset (``'0'``, ``'1'``, ... when it has none)."""
  return list(load_builder(name, data_dir=data_dir).info.features['label'].names)


def open_split(name: str, split: str, *, data_dir: str | os.PathLike | None = None) -> SkeletonSource:
  """Same as ``open_source`` (the name ``skeljax.train`` uses)."""
  return open_source(name, split, data_dir=data_dir)
