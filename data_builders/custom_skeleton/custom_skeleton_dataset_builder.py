"""Any MMAction2/PySKL-format skeleton pickle ("my own data") as a TFDS dataset.

The config is made from the pickle itself (joints, channels, scores, classes, split names), so one command
builds it::

  python -m data_builders.build custom_skeleton --pickle=/data/my_skeletons.pkl --data_dir=...
  python -m data_builders.build custom_skeleton/mine --pickle=/data/my.pkl --splits=train=xsub_train,val=xsub_val
  python -m data_builders.build custom_skeleton --manual_dir=/data/folder_with_one_pkl --data_dir=...

and ``skeljax.data.sources.open_source('custom_skeleton/<name>', 'train', data_dir=...)`` reads it back (the
config is stored with the data). A dict-style pickle (``{'split': ..., 'annotations': ...}``) gives one TFDS
split per entry of ``split`` unless ``--splits`` picks and renames them; a list-style pickle becomes ``train``
(or pass ``--pickle=train=a.pkl,val=b.pkl``).
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import re
from collections.abc import Mapping, Sequence

import tensorflow_datasets as tfds

from data_builders import common

_LAYOUT_BY_JOINTS = {25: 'nturgb+d', 17: 'coco', 18: 'openpose', 20: 'nw-ucla'}

_INSTRUCTIONS = """
Nothing is downloaded: custom_skeleton reads your own MMAction2/PySKL-format annotation pickle. Either pass it
with `--pickle=my.pkl` (or `--pickle=train=a.pkl,val=b.pkl`), or put exactly one `.pkl` in the manual
directory (`--manual_dir`). A dict-style pickle {'split': {name: [frame_dir, ...]}, 'annotations': [...]}
gives one split per entry of 'split' (`--splits=train=xsub_train,val=xsub_val` picks and renames them); a
list of records is one split, `train`. Records hold MMAction2's keys: frame_dir, label, total_frames,
keypoint [M, T, V, C] and, for 2D poses, keypoint_score [M, T, V] (img_shape (h, w) optional).
The skeljax.tools *_to_pickle converters write this format from raw NTU, Kinetics, OpenPose and NW-UCLA files.
"""


@dataclasses.dataclass
class CustomConfig(common.SkeletonConfig):
  """A config whose split candidates are absolute pickle paths."""


def find_manual_pickle(manual_dir: str | os.PathLike | None) -> str:
  """The single ``.pkl`` in ``manual_dir`` (error if there are none or several)."""
  if manual_dir is None:
    raise ValueError('custom_skeleton needs --pickle=<file.pkl> or --manual_dir=<folder with one .pkl>\n'
                     + _INSTRUCTIONS)
  found = sorted(pathlib.Path(manual_dir).expanduser().glob('*.pkl'))
  if len(found) != 1:
    raise ValueError(f'custom_skeleton: expected exactly one .pkl in {manual_dir}, found '
                     f'{[p.name for p in found]}; pass --pickle=<file> instead\n{_INSTRUCTIONS}')
  return str(found[0])


def _parse_pairs(value: str | Sequence[str] | Mapping[str, str] | None) -> dict[str, str] | None:
  if value is None or isinstance(value, Mapping):
    return None if value is None else dict(value)
  items = value.split(',') if isinstance(value, str) else list(value)
  out = {}
  for item in (i.strip() for i in items if i.strip()):
    key, _, val = item.partition('=')
    out[key] = val or key
  return out


def _clean_name(text: str) -> str:
  name = re.sub(r'[^a-z0-9_]', '_', text.lower()).strip('_')
  return name or 'custom'


def custom_config(pickle: str | os.PathLike | Mapping[str, str], *, name: str | None = None,
                  splits: str | Sequence[str] | Mapping[str, str] | None = None, num_classes: int | None = None,
                  layout: str | None = None) -> CustomConfig:
  """Builds the config of a user pickle, inferring joints/channels/scores/classes from its records."""
  from skeljax.data import annotations  # pylint: disable=g-import-not-at-top

  files = _parse_pairs(pickle) if not isinstance(pickle, (str, os.PathLike)) or '=' in os.fspath(pickle) else None
  if files is None:
    path = str(pathlib.Path(pickle).expanduser().resolve())
    data = annotations.safe_load_pickle(path)
    wanted = _parse_pairs(splits)
    if isinstance(data, Mapping) and isinstance(data.get('split'), Mapping):
      available = list(data['split'])
      wanted = wanted or {s: s for s in available}
      unknown = sorted(set(wanted.values()) - set(available))
      if unknown:
        raise ValueError(f'{path}: splits {unknown} are not in the file; it has {available}')
      pairs = {tfds_split: (path, ann_split) for tfds_split, ann_split in wanted.items()}
    else:
      if wanted and len(wanted) != 1:
        raise ValueError(f'{path} has no "split" table, so it is one split; got --splits={splits}')
      pairs = {next(iter(wanted)) if wanted else 'train': (path, None)}
    default_name = pathlib.Path(path).stem
  else:
    pairs = {split: (str(pathlib.Path(p).expanduser().resolve()), None) for split, p in files.items()}
    default_name = pathlib.Path(next(iter(pairs.values()))[0]).stem
  for split in pairs:
    if not re.fullmatch(r'[A-Za-z0-9_]+', split):
      raise ValueError(f'split name {split!r} must use letters, digits and _ only')

  shapes, max_label, with_score = set(), -1, set()
  for split, (path, ann_split) in pairs.items():
    records = annotations.load_annotations(path, split=ann_split, num_classes=num_classes)
    if not records:
      raise ValueError(f'{path}: split {ann_split or split!r} has no records')
    for r in records:
      shapes.add(tuple(r['keypoint'].shape[2:]))
      with_score.add('keypoint_score' in r)
      max_label = max(max_label, r['label'])
  if len(shapes) != 1:
    raise ValueError(f'{sorted(pairs)}: records disagree on [V, C]: {sorted(shapes)}')
  if len(with_score) != 1:
    raise ValueError(f'{sorted(pairs)}: some records have keypoint_score and some do not')
  (num_joints, num_channels), = shapes
  return CustomConfig(
      name=_clean_name(name or default_name), version='1.0.0',
      description=f'custom skeletons from {", ".join(sorted({p for p, _ in pairs.values()}))}',
      num_joints=num_joints, num_channels=num_channels, num_classes=num_classes or max_label + 1,
      with_score=with_score.pop(), layout=layout or _LAYOUT_BY_JOINTS.get(num_joints, 'custom'),
      splits=tuple(common.SplitSource(split, (pair,)) for split, pair in pairs.items()))


class Builder(common.SkeletonBuilder):
  """A user's own skeleton annotations; build with ``custom_config(...)`` (or ``data_builders.build``)."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = []

  def _records(self, dl_manager, split):
    (path, ann_split), = split.candidates  # absolute, so no manual_dir is involved
    source = path + (f' (split {ann_split!r})' if ann_split else '')
    return source, common.load_pickle_split(pathlib.Path(path), ann_split, self.builder_config)
