"""Open a built skeleton dataset by name as a random-access source of MMAction2 results dicts.

``open_source('ntu60/xsub_3d', 'train', data_dir=...)`` reads the array_record files written by
``python -m data_builders.build`` through TFDS's data-source API (no TensorFlow). Each element is the dict the
pipeline transforms expect: ``frame_dir`` (str), ``label`` (int), ``keypoint`` float32 ``[M, T, V, C]``,
``total_frames`` (int), ``keypoint_score [M, T, V]`` and ``img_shape``/``original_shape`` where the dataset has
them, and ``start_index = 0``, ``modality = 'Pose'`` as MMAction2's ``PoseDataset`` sets.
"""

from __future__ import annotations

import os
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

_NO_IMAGE_SHAPE = (0, 0)


class DatasetNotBuiltError(FileNotFoundError):
  """The requested dataset is not in ``data_dir``; the message holds the command that builds it."""


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


class SkeletonSource:
  """Random-access source of results dicts over a TFDS data source (picklable, so grain workers can use it)."""

  def __init__(self, tfds_source, name: str, split: str):
    self._source = tfds_source
    self.name, self.split = name, split

  def __len__(self) -> int:
    return len(self._source)

  def __getitem__(self, index: int) -> dict[str, Any]:
    return to_results(self._source[index])

  def __getitems__(self, indices: Sequence[int]) -> list[dict[str, Any]]:
    return [to_results(e) for e in self._source.__getitems__(list(indices))]

  def __repr__(self) -> str:
    return f'SkeletonSource({self.name!r}, split={self.split!r}, len={len(self)})'


def _build_command(name: str, data_dir: str) -> str:
  dataset = name.split('/')[0]
  manual = '' if dataset == 'synthetic_skeleton' else ' --manual_dir=<folder with the downloaded files>'
  return f'python -m data_builders.build {name} --data_dir={data_dir}{manual}'


def load_builder(name: str, *, data_dir: str | os.PathLike | None = None) -> tfds.core.DatasetBuilder:
  """The prepared TFDS builder of ``<dataset>/<config>``; raises ``DatasetNotBuiltError`` if not built."""
  data_dir = os.fspath(pathlib.Path(data_dir).expanduser()) if data_dir else default_data_dir()
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
    raise DatasetNotBuiltError(f'Dataset {name!r} has not been built in {data_dir}. Build it with:\n  '
                               f'{_build_command(name, data_dir)}')
  return builder


def open_source(name: str, split: str, *, data_dir: str | os.PathLike | None = None) -> SkeletonSource:
  """Opens split ``split`` (TFDS slicing such as ``'train[:10%]'`` works) of a built dataset."""
  builder = load_builder(name, data_dir=data_dir)
  available = list(builder.info.splits.keys())
  base_split = split.split('[')[0]
  if base_split not in available:
    raise ValueError(f'Dataset {name!r} has no split {base_split!r}; splits: {available}')
  return SkeletonSource(builder.as_data_source(split=split), name, split)


def class_names(name: str, *, data_dir: str | os.PathLike | None = None) -> list[str]:
  """The class names of a built dataset (``'0'``, ``'1'``, ... when it has none)."""
  return list(load_builder(name, data_dir=data_dir).info.features['label'].names)


def open_split(name: str, split: str, *, data_dir: str | os.PathLike | None = None) -> SkeletonSource:
  """Same as ``open_source`` (the name ``skeljax.train`` uses)."""
  return open_source(name, split, data_dir=data_dir)
