"""NW-UCLA Multiview Action 3D in CTR-GCN's ``all_sqe`` JSON layout -> PySKL-style 3D records.

Each ``aXX_sXX_eXX_vXX.json`` (action, subject, episode, view) holds ``{"file_name", "skeletons": [T][20][3]
(Kinect v1 x, y, z), "label": 1-based class}``. The ten actions are numbered 1-6, 8, 9, 11, 12; label =
their rank (0-based), the ``label - 1`` CTR-GCN's feeder uses. Joint order is Kinect v1 (the ``nw-ucla``
graph layout). The standard cross-view protocol trains on views 1 and 2 and tests on view 3.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import re

import numpy as np

ACTIONS = (1, 2, 3, 4, 5, 6, 8, 9, 11, 12)
NUM_JOINTS = 20
TRAIN_VIEWS, VAL_VIEWS = (1, 2), (3,)
_NAME = re.compile(r'a(\d{2})_s(\d{2})_e(\d{2})_v(\d{2})')


class NwuclaError(ValueError):
  """A malformed NW-UCLA file; the message names the file."""


@dataclasses.dataclass(frozen=True)
class NwuclaName:
  """Fields of ``aXX_sXX_eXX_vXX`` (as written, 1-based)."""
  name: str
  action: int
  subject: int
  episode: int
  view: int

  @property
  def label(self) -> int:
    """0-based class index."""
    return ACTIONS.index(self.action)


def parse_name(name: str) -> NwuclaName:
  """Parses ``aXX_sXX_eXX_vXX`` at the start of a (file) name."""
  match = _NAME.match(name)
  if not match:
    raise NwuclaError(f'{name!r} is not an NW-UCLA sample name (aXX_sXX_eXX_vXX)')
  parsed = NwuclaName(match.group(0), *(int(g) for g in match.groups()))
  if parsed.action not in ACTIONS:
    raise NwuclaError(f'{name!r}: action {parsed.action} is not one of the NW-UCLA actions {ACTIONS}')
  return parsed


def load_nwucla_file(path: str | os.PathLike) -> dict:
  """One sequence -> ``{frame_dir, label, total_frames, keypoint [1, T, 20, 3] float32}``."""
  path = pathlib.Path(path)
  name = parse_name(path.name)
  try:
    data = json.loads(path.read_text())
  except json.JSONDecodeError as e:
    raise NwuclaError(f'{path}: not valid JSON: {e}') from e
  if not isinstance(data, dict) or 'skeletons' not in data:
    raise NwuclaError(f'{path}: expected a dict with "skeletons"')
  try:
    skeletons = np.asarray(data['skeletons'], np.float32)
  except ValueError as e:
    raise NwuclaError(f'{path}: "skeletons" is not a [T, 20, 3] array: {e}') from e
  if skeletons.ndim != 3 or skeletons.shape[1:] != (NUM_JOINTS, 3) or skeletons.shape[0] < 1:
    raise NwuclaError(f'{path}: "skeletons" must be [T, 20, 3] with T >= 1, got {skeletons.shape}')
  if not np.all(np.isfinite(skeletons)):
    raise NwuclaError(f'{path}: NaN/inf in "skeletons"')
  if 'label' in data and int(data['label']) - 1 != name.label:
    raise NwuclaError(f'{path}: stored label {data["label"]} (1-based) disagrees with action a{name.action:02d} '
                      f'(expected {name.label + 1})')
  if data.get('file_name', name.name) != name.name:
    raise NwuclaError(f'{path}: file_name {data["file_name"]!r} differs from the file name')
  return dict(frame_dir=name.name, label=name.label, total_frames=skeletons.shape[0], keypoint=skeletons[None])


def convert_nwucla_dir(data_dir: str | os.PathLike) -> dict:
  """``{'split': {'xview_train', 'xview_val'}, 'annotations'}`` for every sequence (views 1+2 / view 3)."""
  data_dir = pathlib.Path(data_dir)
  if (data_dir / 'all_sqe').is_dir():
    data_dir = data_dir / 'all_sqe'
  paths = sorted(data_dir.glob('a*_s*_e*_v*.json'))
  if not paths:
    raise FileNotFoundError(f'no aXX_sXX_eXX_vXX.json files in {data_dir}')
  records = [load_nwucla_file(p) for p in paths]
  split = {'xview_train': [], 'xview_val': []}
  for record in records:
    view = parse_name(record['frame_dir']).view
    if view not in TRAIN_VIEWS + VAL_VIEWS:
      raise NwuclaError(f'{data_dir / record["frame_dir"]}.json: unknown view {view}')
    split['xview_train' if view in TRAIN_VIEWS else 'xview_val'].append(record['frame_dir'])
  return dict(split=split, annotations=records)
