"""Grain input pipelines over skeleton data sources: shuffle, repeat, shard per host, transform, batch.

``make_dataset`` turns a random-access source of results dicts (``skeljax.data.sources.open_source``) and a
pipeline ``(results, rng) -> dict`` into a grain ``IterDataset`` of per-host batches (dicts of stacked numpy
arrays plus a boolean ``valid`` mask). Data order and augmentation are a pure function of (seed, step):

- order: a global index shuffle reseeded each epoch (seed + epoch), then this host's strided slice;
- augmentation: grain's ``random_map`` seeds each element's rng from the seed and its *global* index, so the
  same sample gets the same augmentation whatever the number of hosts or workers;
- state: the iterator's ``get_state()`` is a few integers; save and restore it with orbax
  (``grain.checkpoint.CheckpointSave/CheckpointRestore`` inside ``ocp.args.Composite``) to resume at the
  exact next batch.

Evaluation (``shuffle=False, num_epochs=1, drop_remainder=False``) pads the sample list to a multiple of the
global batch with repeats marked ``valid=False``, so every host yields the same number of full batches and
every sample is counted exactly once.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import jax
import numpy as np

from skeljax.data.third_party import grain

Pipeline = Callable[[dict, np.random.Generator], dict]


class _PadToMultiple(grain.MapDataset):
  """``parent`` followed by copies of its first elements up to a multiple of ``multiple``; adds ``valid``.

  Hand-written because grain has no padding op; the copies keep shapes identical so batches stack.
  """

  def __init__(self, parent: grain.MapDataset, multiple: int):
    super().__init__(parent)
    self._length = len(parent)
    if self._length == 0:
      raise ValueError('cannot build batches from an empty dataset')
    self._padded = math.ceil(self._length / multiple) * multiple

  def __len__(self) -> int:
    return self._padded

  def __getitem__(self, index):
    if isinstance(index, slice):
      return self.slice(index)
    element = self._parent[index % self._length]
    return _with_valid(element, index < self._length)

  def __str__(self) -> str:
    return f'_PadToMultiple(length={self._length}, padded={self._padded})'


def _with_valid(element: dict, valid: bool = True) -> dict:
  if not isinstance(element, dict):
    raise TypeError(f'the pipeline must return a dict of arrays, got {type(element).__name__}')
  out = dict(element)
  out['valid'] = np.bool_(valid)
  return out


class _ApplyPipeline:
  """Picklable adapter: runs ``pipeline(results, rng)`` and keeps only array-like outputs for batching."""

  def __init__(self, pipeline: Pipeline):
    self.pipeline = pipeline

  def __call__(self, results: dict, rng: np.random.Generator) -> dict:
    out = self.pipeline(dict(results), rng)
    if not isinstance(out, dict):
      raise TypeError(f'pipeline returned {type(out).__name__} for sample {results.get("frame_dir")!r}; '
                      'it must return a dict (end it with PackActionInputs)')
    return out


def per_host_batch_size(global_batch_size: int, process_count: int) -> int:
  """``global_batch_size / process_count``, which must be a whole number."""
  if global_batch_size <= 0 or global_batch_size % process_count:
    raise ValueError(f'global_batch_size={global_batch_size} must be a positive multiple of the number of '
                     f'processes ({process_count})')
  return global_batch_size // process_count


def num_batches(num_examples: int, global_batch_size: int, *, drop_remainder: bool) -> int:
  """Batches in one pass over ``num_examples`` samples."""
  if drop_remainder:
    return num_examples // global_batch_size
  return math.ceil(num_examples / global_batch_size)


def make_dataset(source: Sequence[dict], pipeline: Pipeline, *, global_batch_size: int, seed: int = 0,
                 shuffle: bool = True, num_epochs: int | None = None, drop_remainder: bool = True,
                 worker_count: int = 0, process_index: int | None = None, process_count: int | None = None,
                 read_threads: int = 4, worker_buffer_size: int = 2) -> grain.IterDataset:
  """Per-host batches ``{key: [global_batch_size / process_count, ...], 'valid': bool[...]}`` of ``source``.

  ``num_epochs=None`` repeats forever. With ``drop_remainder=False`` the (finite) sequence is padded to a
  whole number of global batches and padded samples have ``valid=False``. ``worker_count > 0`` runs the
  pipeline in that many processes (``mp_prefetch``).
  """
  process_index = jax.process_index() if process_index is None else process_index
  process_count = jax.process_count() if process_count is None else process_count
  if not 0 <= process_index < process_count:
    raise ValueError(f'process_index={process_index} is not in [0, process_count={process_count})')
  local_batch = per_host_batch_size(global_batch_size, process_count)
  if num_epochs is None and not drop_remainder:
    drop_remainder = True  # an endless stream has no last batch to pad
  if num_epochs is not None and num_epochs < 1:
    raise ValueError(f'num_epochs must be >= 1 or None, got {num_epochs}')
  if len(source) == 0:
    raise ValueError(f'source {source!r} is empty')

  ds = grain.MapDataset.source(source).seed(seed)
  if shuffle:
    ds = ds.shuffle()
  ds = ds.repeat(num_epochs)
  # Transform before slicing so each element's rng depends on its global index only.
  ds = ds.random_map(_ApplyPipeline(pipeline))
  if drop_remainder:
    ds = ds.map(_with_valid)
    if num_epochs is not None:
      usable = len(ds) // global_batch_size * global_batch_size
      if usable == 0:
        raise ValueError(f'{len(ds)} samples make no full batch of {global_batch_size}; use '
                         'drop_remainder=False or a smaller batch')
      ds = ds[:usable]
  else:
    ds = _PadToMultiple(ds, global_batch_size)
  ds = ds[process_index::process_count]
  ds = ds.batch(local_batch, drop_remainder=True)
  it = ds.to_iter_dataset(grain.ReadOptions(num_threads=read_threads, prefetch_buffer_size=2 * local_batch))
  if worker_count > 0:
    _ensure_absl_flags_parsed()
    it = it.mp_prefetch(grain.MultiprocessingOptions(num_workers=worker_count,
                                                     per_worker_buffer_size=worker_buffer_size))
  return it


def _ensure_absl_flags_parsed() -> None:
  # Grain's worker processes read absl flags; outside absl.app.run they are unparsed and reading them raises.
  from absl import flags  # pylint: disable=g-import-not-at-top
  if not flags.FLAGS.is_parsed():
    flags.FLAGS.mark_as_parsed()


def save_args(iterator: Any):
  """The orbax ``args`` entry that saves a grain iterator's position (use inside ``ocp.args.Composite``)."""
  return grain.checkpoint.CheckpointSave(iterator)


def restore_args(iterator: Any):
  """The orbax ``args`` entry that restores a grain iterator in place (use inside ``ocp.args.Composite``)."""
  return grain.checkpoint.CheckpointRestore(iterator)
