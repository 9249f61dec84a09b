"""TFDS builders for skeleton datasets (array_record, no TensorFlow needed).

Build any of them with ``python -m data_builders.build <name>/<config> --data_dir=... [--manual_dir=...]``.
Each dataset lives in ``data_builders/<name>/<name>_dataset_builder.py`` as ``class Builder``; importing that
module registers it with TFDS.
"""

from __future__ import annotations

import importlib

# Before any builder module imports TFDS itself: TFDS is first imported with the garbage collector paused.
from skeljax.data import third_party  # noqa: F401  # pylint: disable=unused-import

DATASETS = ('synthetic_skeleton', 'ntu60', 'ntu120', 'finegym', 'ucf101', 'hmdb51',
            'babel', 'kinetics400', 'nwucla', 'custom_skeleton')


def builder_class(name: str):
  """The TFDS builder class of dataset ``name`` (imports, hence registers, its module)."""
  if name not in DATASETS:
    raise ValueError(f'Unknown skeleton dataset {name!r}; known: {", ".join(DATASETS)}')
  module = importlib.import_module(f'data_builders.{name}.{name}_dataset_builder')
  return module.Builder
