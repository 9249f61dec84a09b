r"""OpenPose output -> MMAction2-format annotation pickle. Two sources:

Per-frame OpenPose JSON (each ``<clip>_<frame>_keypoints.json`` prefix in the folder is one clip):
  python -m skeljax.tools.openpose_json_to_pickle --json_dir=poses --out=clips.pkl \
      (--label=3 | --labels=labels.json) [--max_person=2] [--to_openpose18] [--img_shape=1080,1920]
  (``labels.json``: ``{"<clip>": label, ...}``; every clip goes to split ``--split``, default "test").

The aggregorio OpenPose-18 dataset (train/test split kept; ``--group`` picks basic/alerting/daily_life):
  python -m skeljax.tools.openpose_json_to_pickle --aggregorio_root=DIR --out=aggregorio_basic.pkl --group=basic
"""

from __future__ import annotations

import collections
import json
import os
import pickle

from absl import app, flags

from skeljax.data import openpose_json

_JSON_DIR = flags.DEFINE_string('json_dir', None, 'Folder of OpenPose *_keypoints.json frame files.')
_AGGREGORIO_ROOT = flags.DEFINE_string('aggregorio_root', None, 'Root of the aggregorio dataset.')
_OUT = flags.DEFINE_string('out', None, 'Output .pkl path.', required=True)
_LABEL = flags.DEFINE_integer('label', None, 'Label of every clip in --json_dir.')
_LABELS = flags.DEFINE_string('labels', None, 'JSON file {clip: label} for --json_dir.')
_SPLIT = flags.DEFINE_string('split', 'test', 'Split name for --json_dir clips.')
_MAX_PERSON = flags.DEFINE_integer('max_person', 2, 'Persons kept per frame (highest summed confidence).')
_TO_OPENPOSE18 = flags.DEFINE_boolean('to_openpose18', False, 'Reduce BODY_25 to the 18-joint layout.')
_IMG_SHAPE = flags.DEFINE_string('img_shape', None, 'Optional "h,w" of the video frames.')
_GROUP = flags.DEFINE_enum('group', None, sorted(openpose_json.AGGREGORIO_GROUPS), 'aggregorio class group.')


def _json_clips() -> dict:
  if (_LABEL.value is None) == (_LABELS.value is None):
    raise app.UsageError('give exactly one of --label and --labels with --json_dir')
  labels = None
  if _LABELS.value:
    with open(_LABELS.value) as f:
      labels = json.load(f)
  prefixes = openpose_json.clip_names(_JSON_DIR.value)
  img_shape = tuple(int(v) for v in _IMG_SHAPE.value.split(',')) if _IMG_SHAPE.value else None
  records = []
  for prefix in prefixes:
    if labels is not None and prefix not in labels:
      raise app.UsageError(f'clip {prefix!r} has no label in {_LABELS.value}')
    paths = openpose_json.frame_files(_JSON_DIR.value, prefix)
    records.append(openpose_json.load_openpose_clip(
        paths, label=labels[prefix] if labels is not None else _LABEL.value, frame_dir=prefix,
        max_person=_MAX_PERSON.value, to_openpose18=_TO_OPENPOSE18.value, img_shape=img_shape))
  return dict(split={_SPLIT.value: [r['frame_dir'] for r in records]}, annotations=records)


def main(argv):
  """Converts the clips or the dataset, writes the pickle and prints a one-line summary."""
  del argv
  if (_JSON_DIR.value is None) == (_AGGREGORIO_ROOT.value is None):
    raise app.UsageError('give exactly one of --json_dir and --aggregorio_root')
  if _JSON_DIR.value:
    data = _json_clips()
  else:
    data = openpose_json.load_aggregorio_dataset(_AGGREGORIO_ROOT.value, _GROUP.value)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, 'wb') as f:
    pickle.dump(data, f, protocol=4)
  records = data['annotations']
  persons = collections.Counter(r['keypoint'].shape[0] for r in records)
  splits = ', '.join(f'{k} {len(v)}' for k, v in data['split'].items())
  print(f'{_OUT.value}: {len(records)} records ({splits}); persons {dict(sorted(persons.items()))}; '
        f'{sum(r["total_frames"] for r in records)} frames')


if __name__ == '__main__':
  app.run(main)
