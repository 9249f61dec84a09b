r"""Converts raw NTU RGB+D ``.skeleton`` files into a PySKL-layout annotation pickle.

  python -m skeljax.tools.ntu_to_pickle --skeleton_dir=nturgb+d_skeletons --out=ntu60_3danno.pkl \
      [--dataset=ntu60|ntu120] [--modality=3d|2d] [--style=pyskl|mmaction0x] [--num_workers=8]

``--style=pyskl`` (default) denoises as PySKL's ``tools/data/ntu_preproc.py`` (keypoints float16, as PySKL
stores them). ``--style=mmaction0x`` reproduces MMAction2 0.x ``gen_ntu_rgbd_raw.py`` (3D only: top-2 energy
bodies, 2s-AGCN pre_normalization, always 2 persons, float32), the data of the 0.x seed checkpoints; e.g.
``--style=mmaction0x --out=ntu60_3d_0x.pkl`` is what the ``ntu60/*_3d_0x`` builder configs read. Either
pickle holds only builtins and numpy arrays, ``{'split', 'annotations'}``, and reads back with
``skeljax.data.annotations``.

Frames in which Kinect tracked no body: ``--style=pyskl`` drops them (a record's frames are the frames with a
body, as in PySKL's pickles); ``--style=mmaction0x`` keeps them as all-zero frames, as the 0.x script does,
and its pre_normalization treats them as there (if the first frame is empty the frames with a body move to
the front; a trailing empty run is loop-filled; other empty frames stay zero).

Any malformed file stops the conversion with an error naming the file and the line: a wrong count, a value
that is not a number, a non-finite x, y or z (or, with ``--modality=2d``, colour pixel), a file cut short.
"""

from __future__ import annotations

import collections
import os
import pickle
import sys

import numpy as np
from absl import app, flags

from skeljax.data import ntu_raw, ntu_raw_0x

_SKELETON_DIR = flags.DEFINE_string('skeleton_dir', None, 'Folder of raw .skeleton files.', required=True)
_OUT = flags.DEFINE_string('out', None, 'Output .pkl path.', required=True)
_DATASET = flags.DEFINE_enum('dataset', 'ntu60', ['ntu60', 'ntu120'], 'Which benchmark set to write.')
_MODALITY = flags.DEFINE_enum('modality', '3d', ['3d', '2d'], '3d: x, y, z metres; 2d: colour pixels.')
_STYLE = flags.DEFINE_enum('style', 'pyskl', ['pyskl', 'mmaction0x'],
                           'pyskl: PySKL denoising, frames without a body dropped; mmaction0x: MMAction2 0.x '
                           'selection + pre_normalization, frames without a body kept as zeros.')
_NUM_WORKERS = flags.DEFINE_integer('num_workers', 1, 'Processes used to parse files.')


def main(argv):
  """Converts the folder, writes the pickle and prints a one-line summary."""
  del argv
  if _STYLE.value == 'mmaction0x' and _MODALITY.value != '3d':
    raise app.UsageError('--style=mmaction0x converts 3D skeletons only (so does MMAction2 0.x)')
  try:
    if _STYLE.value == 'mmaction0x':
      # Kept float32 as the 0.x script stores it, not rounded to float16 like PySKL's pickles.
      data = ntu_raw_0x.convert_ntu_dir(_SKELETON_DIR.value, _DATASET.value, num_workers=_NUM_WORKERS.value)
    else:
      data = ntu_raw.convert_ntu_dir(_SKELETON_DIR.value, _DATASET.value, modality=_MODALITY.value,
                                     num_workers=_NUM_WORKERS.value)
      for record in data['annotations']:
        record['keypoint'] = record['keypoint'].astype(np.float16)
  except (ntu_raw.NtuFormatError, FileNotFoundError) as e:
    # The message names the file and line; nothing is written.
    print(f'error: {e}', file=sys.stderr)
    return 1
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, 'wb') as f:
    pickle.dump(data, f, protocol=4)
  persons = collections.Counter(r['keypoint'].shape[0] for r in data['annotations'])
  frames = sum(r['total_frames'] for r in data['annotations'])
  splits = ', '.join(f'{k} {len(v)}' for k, v in data['split'].items())
  print(f'{_OUT.value}: {len(data["annotations"])} records ({splits}); persons '
        f'{dict(sorted(persons.items()))}; {frames} frames')


if __name__ == '__main__':
  app.run(main)
