"""TensorFlow Datasets and grain, imported with Python's cyclic garbage collector paused.

Both run imports under etils' lazy-import hook, which replaces ``builtins.__import__`` with a function that rejects
every relative import: TFDS at its own import and again when it first reads a builder's metadata
(``tensorflow_datasets.core.dataset_metadata``, imported on first use), grain at its import (its parquet
source). A garbage collection that falls inside such a window runs whatever finalisers are due there, and a
multiprocessing semaphore's finaliser (``multiprocessing.synchronize.SemLock._cleanup``, left by a grain worker
pool or any ``spawn`` lock) starts with ``from .resource_tracker import unregister``: it fails with "Relative
import statements not supported", is reported as "Exception ignored in", and the named semaphore stays until
the resource tracker removes it at exit. Imported here, with collection paused, every such window is closed
before skeljax uses either library; skeljax imports them from this module only.
"""

from __future__ import annotations

import gc
import importlib
from types import ModuleType

# Modules TFDS imports on first use that open the hook when they are imported (found by recording, with a
# ``gc.callbacks`` entry, every collection that runs while ``builtins.__import__`` is replaced).
_TFDS_DEFERRED = ('tensorflow_datasets.core.dataset_metadata',)


def import_without_collection(*names: str) -> list[ModuleType]:
  """``importlib.import_module`` of each name with the cyclic garbage collector paused (restored as it was)."""
  enabled = gc.isenabled()
  gc.disable()
  try:
    return [importlib.import_module(name) for name in names]
  finally:
    if enabled:
      gc.enable()


tfds, *_ = import_without_collection('tensorflow_datasets', *_TFDS_DEFERRED)
grain, = import_without_collection('grain')
