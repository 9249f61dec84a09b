"""Shared pieces of the skeleton TFDS builders: feature spec, config type, pickle-backed base builder.

Every builder stores one example per video with MMAction2's keys (``frame_dir``, ``label``, ``keypoint
[M, T, V, C]``, ``keypoint_score [M, T, V]`` for 2D editions, ``total_frames``, ``img_shape``), written as
array_record so that reading needs neither TensorFlow nor tf.data. Joint/bone/motion streams are not stored:
the pipeline derives them (MMAction2's ``GenSkeFeat``), so one dataset serves all four streams.

``img_shape`` is ``(0, 0)`` when the source has none (3D Kinect data); ``skeljax.data.sources`` then leaves
the key out of the results dict, as MMAction2 would.
"""

from __future__ import annotations

import dataclasses
import functools
import pathlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Any

import numpy as np
import tensorflow_datasets as tfds

# Shown in every builder's citation field; the datasets' own papers are in their descriptions.
MMACTION2_HOMEPAGE = 'https://github.com/open-mmlab/mmaction2/tree/main/tools/data/skeleton'
MMACTION2_DATA_URL = 'https://download.openmmlab.com/mmaction/v1.0/skeleton/data'
PYSKL_DATA_URL = 'https://download.openmmlab.com/mmaction/pyskl/data'
NO_IMAGE_SHAPE = (0, 0)


def skeleton_features(*, num_joints: int, num_channels: int, with_score: bool, num_classes: int | None = None,
                      class_names: Sequence[str] | None = None) -> tfds.features.FeaturesDict:
  """The feature spec shared by all skeleton builders (keypoint ``[M, T, V, C]`` float32)."""
  if class_names is not None:
    label = tfds.features.ClassLabel(names=list(class_names))
  else:
    label = tfds.features.ClassLabel(num_classes=num_classes)
  features = {
      'frame_dir': tfds.features.Text(),
      'label': label,
      # Two unknown dims (persons, frames) need an explicit encoding; zlib also shrinks the zero padding.
      'keypoint': tfds.features.Tensor(shape=(None, None, num_joints, num_channels), dtype=np.float32,
                                       encoding='zlib'),
      'total_frames': tfds.features.Scalar(dtype=np.int32),
      'img_shape': tfds.features.Tensor(shape=(2,), dtype=np.int32),
  }
  if with_score:
    features['keypoint_score'] = tfds.features.Tensor(shape=(None, None, num_joints), dtype=np.float32,
                                                      encoding='zlib')
  return tfds.features.FeaturesDict(features)


@dataclasses.dataclass
class SplitSource:
  """Where one TFDS split comes from: the first existing ``(file, ann_split)`` among ``candidates``.

  ``ann_split`` selects from a dict-style pickle's ``split`` table; ``None`` takes the whole file (0.x
  list-style pickles hold one split per file).
  """
  name: str
  candidates: tuple[tuple[str, str | None], ...]


@dataclasses.dataclass
class SkeletonConfig(tfds.core.BuilderConfig):
  """A benchmark split of a skeleton dataset: joint set, channels, classes and where each split lives."""
  num_joints: int = 25
  num_channels: int = 3
  num_classes: int = 60
  with_score: bool = False
  layout: str = 'nturgb+d'
  splits: tuple[SplitSource, ...] = ()


def to_example(record: Mapping[str, Any], *, num_joints: int, num_channels: int, with_score: bool,
               source: str) -> dict[str, Any]:
  """Converts a validated MMAction2 annotation dict into a TFDS example; errors name ``source``/frame_dir."""
  frame_dir = record.get('frame_dir')
  where = f'{source}: record {frame_dir!r}'
  keypoint = np.asarray(record['keypoint'], dtype=np.float32)
  if keypoint.ndim != 4 or keypoint.shape[2:] != (num_joints, num_channels):
    raise ValueError(f'{where}: keypoint has shape {keypoint.shape}, expected [M, T, {num_joints}, '
                     f'{num_channels}] for this config')
  if not np.all(np.isfinite(keypoint)):
    raise ValueError(f'{where}: keypoint contains NaN or inf')
  example = {
      'frame_dir': str(frame_dir),
      'label': int(record['label']),
      'keypoint': keypoint,
      'total_frames': int(record.get('total_frames', keypoint.shape[1])),
      'img_shape': np.asarray(record.get('img_shape', NO_IMAGE_SHAPE), dtype=np.int32).reshape(2),
  }
  if example['total_frames'] != keypoint.shape[1]:
    raise ValueError(f'{where}: total_frames={example["total_frames"]} but keypoint has {keypoint.shape[1]} '
                     'frames')
  if with_score:
    if 'keypoint_score' not in record:
      raise ValueError(f'{where}: this is a 2D config but the record has no keypoint_score')
    score = np.asarray(record['keypoint_score'], dtype=np.float32)
    if score.shape != keypoint.shape[:3]:
      raise ValueError(f'{where}: keypoint_score has shape {score.shape}, expected {keypoint.shape[:3]}')
    example['keypoint_score'] = score
  return example


def keyed_example(record: Mapping[str, Any], **kwargs) -> tuple[str, dict[str, Any]]:
  """``to_example`` keyed by ``frame_dir`` (the TFDS example key)."""
  example = to_example(record, **kwargs)
  return example['frame_dir'], example


def find_file(manual_dir: pathlib.Path, candidates: Sequence[tuple[str, str | None]],
              instructions: str) -> tuple[pathlib.Path, str | None]:
  """The first ``(path, ann_split)`` of ``candidates`` whose file is in ``manual_dir``; raises naming all."""
  for name, ann_split in candidates:
    path = pathlib.Path(manual_dir) / name
    if path.is_file():
      return path, ann_split
  names = sorted({name for name, _ in candidates})
  raise FileNotFoundError(f'None of {names} found in the manual directory {manual_dir}.\n{instructions}')


def unique_keys(examples: Iterable[tuple[str, dict]], source: str) -> Iterator[tuple[str, dict]]:
  """Passes examples through, raising on a repeated ``frame_dir`` (TFDS keys must be unique)."""
  seen = set()
  for key, example in examples:
    if key in seen:
      raise ValueError(f'{source}: frame_dir {key!r} occurs more than once')
    seen.add(key)
    yield key, example


def beam_module():
  """Imports Apache Beam lazily (optional dependency) with an actionable error."""
  try:
    import apache_beam  # pylint: disable=g-import-not-at-top
  except ImportError as e:
    raise ImportError('--beam needs Apache Beam, which skeljax does not install by default (it downgrades '
                      'protobuf): `pip install apache-beam` in a separate environment.') from e
  return apache_beam


class SkeletonBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
  """Base builder: configs are ``SkeletonConfig``; subclasses provide ``_records(dl_manager, split)``.

  ``use_beam=True`` (``--beam`` in ``data_builders.build``) returns Beam transforms from
  ``_generate_examples`` so TFDS runs the conversion on a Beam runner; otherwise a plain generator is used.
  """

  def __init__(self, *, use_beam: bool = False, **kwargs):
    self._use_beam = use_beam
    super().__init__(**kwargs)

  def _info(self) -> tfds.core.DatasetInfo:
    cfg = self.builder_config
    return self.dataset_info_from_configs(
        features=skeleton_features(num_joints=cfg.num_joints, num_channels=cfg.num_channels,
                                   with_score=cfg.with_score, num_classes=cfg.num_classes,
                                   class_names=self._class_names()),
        homepage=MMACTION2_HOMEPAGE,
        metadata=tfds.core.MetadataDict(layout=cfg.layout))

  def _class_names(self) -> Sequence[str] | None:
    return None

  def _split_generators(self, dl_manager: tfds.download.DownloadManager):
    return {split.name: self._generate_examples(dl_manager=dl_manager, split=split)
            for split in self.builder_config.splits}

  def _records(self, dl_manager, split: SplitSource) -> tuple[str, Iterable[Mapping[str, Any]]]:
    """Returns (source description for errors, iterable of annotation dicts) for one split."""
    path, ann_split = find_file(dl_manager.manual_dir, split.candidates, self.MANUAL_DOWNLOAD_INSTRUCTIONS)
    source = f'{path}' + (f' (split {ann_split!r})' if ann_split else '')
    return source, load_pickle_split(path, ann_split, self.builder_config)

  def _converter(self, source: str):
    cfg = self.builder_config
    # A module-level partial, not a bound method, so Beam can pickle it without the builder.
    return functools.partial(keyed_example, num_joints=cfg.num_joints, num_channels=cfg.num_channels,
                             with_score=cfg.with_score, source=source)

  def _generate_examples(self, dl_manager, split: SplitSource):
    if self._use_beam:
      source, records = self._records(dl_manager, split)
      # Records are shipped to the workers as they are; conversion and validation run there in parallel.
      return beam_module().Create(list(records)) | beam_module().Map(self._converter(source))
    return self._iterate_examples(dl_manager, split)

  def _iterate_examples(self, dl_manager, split: SplitSource):
    # A generator, so a split's annotation file is loaded only when TFDS writes that split (one at a time).
    source, records = self._records(dl_manager, split)
    yield from unique_keys(map(self._converter(source), records), source)


def load_pickle_split(path: pathlib.Path, ann_split: str | None, cfg: SkeletonConfig) -> list[dict]:
  """Loads and validates the annotations of one split of an MMAction2/PySKL pickle."""
  from skeljax.data import annotations  # pylint: disable=g-import-not-at-top

  return list(annotations.load_annotations(path, split=ann_split, num_joints=cfg.num_joints,
                                           num_classes=cfg.num_classes))


def benchmark_configs(*, dataset: str, benchmarks: Sequence[str], num_classes: int,
                      files_3d: tuple[str, ...] = (), files_2d: tuple[str, ...] = (),
                      version: str = '1.0.0') -> list[SkeletonConfig]:
  """One config per benchmark × edition; splits ``train``/``val`` read ``<benchmark>_train``/``_val``."""
  configs = []
  for edition, files in (('3d', files_3d), ('2d', files_2d)):
    if not files:
      continue
    three_d = edition == '3d'
    for bench in benchmarks:
      configs.append(SkeletonConfig(
          name=f'{bench}_{edition}', version=version,
          description=(f'{dataset} {bench} benchmark, '
                       + ('Kinect 3D skeletons (NTU-25 joints, metres)' if three_d
                          else 'HRNet 2D skeletons (COCO-17 joints, pixels, with scores)')),
          num_joints=25 if three_d else 17, num_channels=3 if three_d else 2, num_classes=num_classes,
          with_score=not three_d, layout='nturgb+d' if three_d else 'coco',
          splits=tuple(SplitSource(split, tuple((f, f'{bench}_{split}') for f in files))
                       for split in ('train', 'val'))))
  return configs


def coco_2d_config(name: str, *, num_classes: int, splits: Mapping[str, Sequence[tuple[str, str | None]]],
                   description: str, version: str = '1.0.0') -> SkeletonConfig:
  """A config of HRNet COCO-17 2D skeletons (pixels, with scores)."""
  return SkeletonConfig(
      name=name, version=version, description=description, num_joints=17, num_channels=2,
      num_classes=num_classes, with_score=True, layout='coco',
      splits=tuple(SplitSource(split, tuple(candidates)) for split, candidates in splits.items()))


@dataclasses.dataclass
class NtuConfig(SkeletonConfig):
  """An NTU config whose raw ``.skeleton`` files are converted in ``raw_style`` ('pyskl' or 'mmaction0x')."""
  raw_style: str = 'pyskl'


def ntu_0x_configs(*, dataset: str, prefix: str, benchmarks: Mapping[str, str], num_classes: int,
                   version: str = '1.0.0') -> list[NtuConfig]:
  """``<benchmark>_3d_0x`` configs: MMAction2 0.x ``gen_ntu_rgbd_raw.py`` data (pre-normalised, M = 2).

  ``benchmarks`` maps our benchmark names to the 0.x script's folder names (``xset`` -> ``xsetup``). A split
  reads ``<prefix>_3d_0x.pkl`` (``ntu_to_pickle --style=mmaction0x``), else the 0.x script's own
  ``<folder>/<split>.pkl``, else the raw files.
  """
  configs = []
  for bench, folder in benchmarks.items():
    splits = tuple(SplitSource(split, ((f'{prefix}_3d_0x.pkl', f'{bench}_{split}'),
                                       (f'{folder}/{split}.pkl', None)))
                   for split in ('train', 'val'))
    configs.append(NtuConfig(
        name=f'{bench}_3d_0x', version=version,
        description=(f'{dataset} {bench} benchmark, Kinect 3D skeletons as MMAction2 0.x made them: top-2 '
                     'energy bodies, 2s-AGCN pre_normalization (spine-centred, rotated), always 2 persons'),
        num_joints=25, num_channels=3, num_classes=num_classes, with_score=False, layout='nturgb+d',
        splits=splits, raw_style='mmaction0x'))
  return configs


def raw_ntu_example(path: str, style: str = 'pyskl', **kwargs) -> tuple[str, dict[str, Any]]:
  """One raw ``.skeleton`` file → keyed example: PySKL denoising (float16-rounded like its pickles), or
  MMAction2 0.x selection + pre_normalization with ``style='mmaction0x'``."""
  from skeljax.data import ntu_raw, ntu_raw_0x  # pylint: disable=g-import-not-at-top
  seq = ntu_raw.parse_skeleton_file(path)
  if style == 'mmaction0x':
    record = ntu_raw_0x.to_record(seq)
  elif style == 'pyskl':
    record = ntu_raw.to_record(seq, '3d')
  else:
    raise ValueError(f"raw NTU style must be 'pyskl' or 'mmaction0x', got {style!r}")
  return keyed_example(record, **kwargs)


class NtuBuilder(SkeletonBuilder, skip_registration=True):
  """NTU builders: annotation pickles, or (3D configs) the raw Kinect ``.skeleton`` files.

  Raw files are read when no pickle is in the manual directory but ``nturgb+d_skeletons/`` (the folder the
  official zips extract to) or the manual directory itself holds ``*.skeleton`` files; they go through
  ``skeljax.data.ntu_raw`` (PySKL's denoising, which its ``*_3danno.pkl`` files were made with) or, for an
  ``NtuConfig`` with ``raw_style='mmaction0x'``, ``skeljax.data.ntu_raw_0x``, minus the samples the dataset
  lists as missing, split by ``skeljax.data.ntu_splits``.
  """
  NTU_DATASET = ''

  def _raw_dir(self, manual_dir: pathlib.Path) -> pathlib.Path | None:
    for folder in (pathlib.Path(manual_dir) / 'nturgb+d_skeletons', pathlib.Path(manual_dir)):
      if folder.is_dir() and next(folder.glob('*.skeleton'), None) is not None:
        return folder
    return None

  def _generate_examples(self, dl_manager, split: SplitSource):
    cfg = self.builder_config
    manual_dir = pathlib.Path(dl_manager.manual_dir)
    has_pickle = any((manual_dir / name).is_file() for name, _ in split.candidates)
    raw_dir = None if has_pickle or cfg.num_channels != 3 else self._raw_dir(manual_dir)
    if raw_dir is None:
      return super()._generate_examples(dl_manager, split)
    from skeljax.data import ntu_raw, ntu_splits  # pylint: disable=g-import-not-at-top
    samples = ntu_raw.list_samples(raw_dir, self.NTU_DATASET)
    # e.g. 'xsub_train', the same for every dict-style candidate (list-style 0.x files have None).
    ann_split, = {a for _, a in split.candidates if a is not None}
    paths = [str(samples[name]) for name in ntu_splits.make_splits(samples, self.NTU_DATASET)[ann_split]]
    style = getattr(cfg, 'raw_style', 'pyskl')
    source = f'{raw_dir} ({self.NTU_DATASET} {ann_split}, {style})'
    convert = functools.partial(raw_ntu_example, style=style, num_joints=cfg.num_joints,
                                num_channels=cfg.num_channels, with_score=cfg.with_score, source=source)
    if self._use_beam:
      beam = beam_module()
      # Parsing ~114k text files is the slow part, so that is what Beam spreads over workers.
      return beam.Create(paths) | beam.Map(convert)
    return unique_keys(map(convert, paths), source)
