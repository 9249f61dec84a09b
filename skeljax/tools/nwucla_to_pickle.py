r"""Converts NW-UCLA (CTR-GCN ``all_sqe`` JSON layout) into a PySKL-format annotation pickle.

  python -m skeljax.tools.nwucla_to_pickle --data_dir=data/NW-UCLA/all_sqe --out=nwucla_3d.pkl

Splits ``xview_train`` (views 1, 2) and ``xview_val`` (view 3); keypoints [1, T, 20, 3] float32 (Kinect v1
order, the ``nw-ucla`` graph layout); reads back with ``skeljax.data.annotations``.
"""

from __future__ import annotations

import os
import pickle

from absl import app, flags

from skeljax.data import nwucla

_DATA_DIR = flags.DEFINE_string('data_dir', None, 'all_sqe folder (or its parent).', required=True)
_OUT = flags.DEFINE_string('out', None, 'Output .pkl path.', required=True)


def main(argv):
  """Converts the folder, writes the pickle and prints a one-line summary."""
  del argv
  data = nwucla.convert_nwucla_dir(_DATA_DIR.value)
  os.makedirs(os.path.dirname(os.path.abspath(_OUT.value)), exist_ok=True)
  with open(_OUT.value, 'wb') as f:
    pickle.dump(data, f, protocol=4)
  records = data['annotations']
  splits = ', '.join(f'{k} {len(v)}' for k, v in data['split'].items())
  print(f'{_OUT.value}: {len(records)} records ({splits}); persons {{1: {len(records)}}}; '
        f'{sum(r["total_frames"] for r in records)} frames')


if __name__ == '__main__':
  app.run(main)
