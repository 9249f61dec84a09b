r"""Converts a folder of ST-GCN Kinetics-skeleton JSON files into an MMAction2-format annotation pickle.

  python -m skeljax.tools.kinetics_json_to_pickle --json_dir=kinetics_val --out=kinetics_val.pkl \
      [--label_file=kinetics_val_label.json] [--split=val] [--max_person=2] [--img_shape=256,340|none]

The pickle is ``{'split': {<split>: [frame_dir, ...]}, 'annotations': [...]}`` with pixel coordinates
(``--img_shape=none`` keeps the normalised [0, 1] ones) and reads back with ``skeljax.data.annotations``.
"""

from __future__ import annotations

import collections
import os
import pickle

from absl import app, flags

from skeljax.data import kinetics_json

_JSON_DIR = flags.DEFINE_string('json_dir', None, 'Folder of <video_id>.json files.', required=True)
_OUT = flags.DEFINE_string('out', None, 'Output .pkl path.', required=True)
_LABEL_FILE = flags.DEFINE_string('label_file', None, 'Optional kinetics_{train,val}_label.json.')
_SPLIT = flags.DEFINE_string('split', 'train', 'Split name the videos are listed under.')
_MAX_PERSON = flags.DEFINE_integer('max_person', 2, 'Persons kept per frame (highest summed score).')
_IMG_SHAPE = flags.DEFINE_string('img_shape', '256,340', '"h,w" to scale to pixels, or "none".')


def main(argv):
  """Converts the folder, writes the pickle and prints a one-line summary."""
  del argv
  img_shape = None if _IMG_SHAPE.value.lower() == 'none' else tuple(int(v) for v in _IMG_SHAPE.value.split(','))
  records = kinetics_json.convert_kinetics_dir(_JSON_DIR.value, _LABEL_FILE.value, max_person=_MAX_PERSON.value,
                                               img_shape=img_shape)
  data = dict(split={_SPLIT.value: [r['frame_dir'] for r in records]}, annotations=records)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, 'wb') as f:
    pickle.dump(data, f, protocol=4)
  persons = collections.Counter(r['keypoint'].shape[0] for r in records)
  frames = sum(r['total_frames'] for r in records)
  print(f'{_OUT.value}: {len(records)} records (split {_SPLIT.value}); persons {dict(sorted(persons.items()))}; '
        f'{frames} frames')


if __name__ == '__main__':
  app.run(main)
