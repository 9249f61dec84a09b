"""Grain loader: epochs, per-host sharding, eval padding, (seed, step)-determinism, orbax iterator checkpoints."""

from __future__ import annotations

import collections
import json
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import orbax.checkpoint as ocp
import pytest

from data_builders import build as build_lib
from skeljax.data import loader, sources
from skeljax.data.third_party import grain


class ToySource:
  """Sample i has label i and a keypoint filled with i (picklable, so worker processes can use it)."""

  def __init__(self, n: int):
    self.n = n

  def __len__(self):
    return self.n

  def __getitem__(self, i):
    return {'frame_dir': f'clip{i}', 'label': i, 'keypoint': np.full((1, 4, 3, 2), i, np.float32)}


def toy_pipeline(results, rng):
  """A random 'augmentation' (a jitter drawn from the per-element rng) and a packed output."""
  return {'inputs': results['keypoint'] + np.float32(rng.uniform()), 'label': np.int32(results['label'])}


def _batches(ds, limit=None):
  out = []
  for i, b in enumerate(ds):
    if limit is not None and i >= limit:
      break
    out.append(b)
  return out


def _labels(batches):
  return [int(x) for b in batches for x, v in zip(b['label'], b['valid']) if v]


def test_epochs_are_reshuffled_permutations_and_seeded():
  ds = loader.make_dataset(ToySource(12), toy_pipeline, global_batch_size=4, seed=5, num_epochs=3,
                           process_index=0, process_count=1)
  labels = _labels(_batches(ds))
  epochs = [labels[i * 12:(i + 1) * 12] for i in range(3)]
  assert all(sorted(e) == list(range(12)) for e in epochs)
  assert len({tuple(e) for e in epochs}) == 3  # a new order every epoch
  again = _labels(_batches(loader.make_dataset(ToySource(12), toy_pipeline, global_batch_size=4, seed=5,
                                               num_epochs=3, process_index=0, process_count=1)))
  other = _labels(_batches(loader.make_dataset(ToySource(12), toy_pipeline, global_batch_size=4, seed=6,
                                               num_epochs=3, process_index=0, process_count=1)))
  assert again == labels and other != labels


def test_hosts_split_each_global_batch_and_augmentation_follows_the_sample():
  kwargs = dict(global_batch_size=6, seed=1, num_epochs=2)
  single = _batches(loader.make_dataset(ToySource(18), toy_pipeline, process_index=0, process_count=1, **kwargs))
  hosts = [_batches(loader.make_dataset(ToySource(18), toy_pipeline, process_index=p, process_count=3, **kwargs))
           for p in range(3)]
  assert all(len(h) == len(single) == 6 for h in hosts)
  for step, global_batch in enumerate(single):
    parts = [h[step] for h in hosts]
    assert all(p['label'].shape == (2,) for p in parts)
    # Together the hosts see exactly the samples of the single-host global batch...
    assert sorted(np.concatenate([p['label'] for p in parts])) == sorted(global_batch['label'])
    # ...and each sample gets the same random jitter whatever the number of hosts.
    jitter = {int(l): float(x[0, 0, 0, 0] - l) for l, x in zip(global_batch['label'], global_batch['inputs'])}
    for p in parts:
      for l, x in zip(p['label'], p['inputs']):
        assert float(x[0, 0, 0, 0] - l) == pytest.approx(jitter[int(l)])


def test_eval_counts_every_sample_once_with_padding():
  counts = collections.Counter()
  num_batches = []
  for p in range(2):
    ds = loader.make_dataset(ToySource(11), toy_pipeline, global_batch_size=4, shuffle=False, num_epochs=1,
                             drop_remainder=False, process_index=p, process_count=2)
    batches = _batches(ds)
    num_batches.append(len(batches))
    assert all(b['label'].shape == (2,) for b in batches)
    counts.update(_labels(batches))
  assert num_batches == [3, 3]  # equal per host, so multi-host eval steps stay in lockstep
  assert counts == collections.Counter(range(11))
  assert loader.num_batches(11, 4, drop_remainder=False) == 3


def test_bad_arguments_raise():
  with pytest.raises(ValueError, match='multiple of the number of processes'):
    loader.make_dataset(ToySource(8), toy_pipeline, global_batch_size=5, process_index=0, process_count=2)
  with pytest.raises(ValueError, match='no full batch'):
    loader.make_dataset(ToySource(3), toy_pipeline, global_batch_size=4, num_epochs=1, process_index=0,
                        process_count=1)
  ds = loader.make_dataset(ToySource(4), lambda r, rng: r['label'], global_batch_size=2, process_index=0,
                           process_count=1)
  with pytest.raises(TypeError, match="clip.*must return a dict"):
    next(iter(ds))


def _checkpoint_roundtrip(tmp_path, worker_count: int):
  def make():
    return iter(loader.make_dataset(ToySource(20), toy_pipeline, global_batch_size=4, seed=3, num_epochs=None,
                                    worker_count=worker_count, process_index=0, process_count=1))

  it = make()
  for _ in range(7):  # crosses an epoch boundary (5 batches per epoch)
    next(it)
  with ocp.CheckpointManager(tmp_path / 'ckpt') as mngr:
    mngr.save(7, args=ocp.args.Composite(data_iter=loader.save_args(it), meta=ocp.args.JsonSave({'step': 7})))
    mngr.wait_until_finished()
  expected = [next(it) for _ in range(3)]

  fresh = make()
  with ocp.CheckpointManager(tmp_path / 'ckpt') as mngr:
    mngr.restore(7, args=ocp.args.Composite(data_iter=loader.restore_args(fresh)))
  for want in expected:
    got = next(fresh)
    assert set(got) == set(want)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key])


def test_iterator_state_roundtrips_through_orbax(tmp_path):
  _checkpoint_roundtrip(tmp_path, worker_count=0)


@pytest.mark.slow
def test_iterator_state_roundtrips_through_orbax_with_worker_processes(tmp_path):
  _checkpoint_roundtrip(tmp_path, worker_count=2)


def test_worker_processes_give_the_in_process_batches():
  """mp_prefetch must not change the shuffled order, the per-sample randomness or the padded last batch."""
  # One configuration covering all three, so the test starts worker processes only once.
  batches = {workers: _batches(loader.make_dataset(ToySource(10), toy_pipeline, global_batch_size=4, seed=4,
                                                   num_epochs=1, drop_remainder=False, worker_count=workers,
                                                   process_index=0, process_count=1))
             for workers in (0, 1)}
  assert len(batches[0]) == len(batches[1]) == 3
  assert sorted(_labels(batches[0])) == list(range(10)) and _labels(batches[0]) != list(range(10))
  assert batches[0][-1]['valid'].tolist() == [True, True, False, False]
  for want, got in zip(batches[0], batches[1]):
    assert set(got) == set(want)
    for key in want:
      np.testing.assert_array_equal(got[key], want[key])


def test_loads_a_built_tfds_dataset(tmp_path):
  """End to end: build a small synthetic dataset, open it by name, batch it through the loader."""
  overrides = {'num_train': 13, 'num_val': 5, 'num_test': 0, 'max_frames': 55}
  builder = build_lib.build('synthetic_skeleton/coco17_2d', data_dir=tmp_path, config_overrides=overrides)
  source = sources.open_source(f'synthetic_skeleton/{builder.builder_config.name}', 'val', data_dir=tmp_path)

  def first_frames(results, rng):
    del rng
    return {'inputs': np.concatenate([results['keypoint'][:1, :8], results['keypoint_score'][:1, :8, :, None]], -1),
            'label': np.int32(results['label'])}

  batches = _batches(loader.make_dataset(source, first_frames, global_batch_size=4, shuffle=False, num_epochs=1,
                                         drop_remainder=False, process_index=0, process_count=1))
  assert [b['inputs'].shape for b in batches] == [(4, 1, 8, 17, 3)] * 2
  assert sorted(_labels(batches)) == sorted(source[i]['label'] for i in range(5))
  assert isinstance(loader.make_dataset(source, first_frames, global_batch_size=2, process_index=0,
                                        process_count=1), grain.IterDataset)


def test_no_lazy_import_window_of_tfds_or_grain_runs_with_the_garbage_collector_on(tmp_path):
  """TFDS and grain import under etils' lazy-import hook, where a collection would run a multiprocessing
  finaliser that fails (``skeljax.data.third_party``). In a fresh interpreter, every entry into the hook while
  skeljax imports them, builds a dataset, opens it and batches it, finds the collector paused."""
  script = textwrap.dedent(f"""
      import contextlib, gc, json, sys
      from etils import epy
      entries, original = [], epy.lazy_imports

      @contextlib.contextmanager
      def recording(*args, **kwargs):
        entries.append((gc.isenabled(), sys._getframe(2).f_code.co_filename))
        with original(*args, **kwargs):
          yield

      epy.lazy_imports = recording
      from data_builders import build as build_lib
      from skeljax.data import loader, sources
      overrides = {{'num_train': 3, 'num_val': 2, 'num_test': 0, 'max_frames': 52}}
      builder = build_lib.build('synthetic_skeleton/ntu25_3d', data_dir={str(tmp_path)!r}, config_overrides=overrides)
      source = sources.open_source('synthetic_skeleton/' + builder.builder_config.name, 'val', data_dir={str(tmp_path)!r})
      pipeline = lambda results, rng: {{'label': results['label']}}
      list(loader.make_dataset(source, pipeline, global_batch_size=2, shuffle=False, num_epochs=1,
                               drop_remainder=False, process_index=0, process_count=1))
      print(json.dumps(entries))
      """)
  repo = pathlib.Path(__file__).resolve().parents[1]
  done = subprocess.run([sys.executable, '-c', script], cwd=repo, capture_output=True, text=True, timeout=300,
                        check=False)
  assert done.returncode == 0, done.stderr[-3000:]
  entries = json.loads(done.stdout.strip().splitlines()[-1])
  windows = {file.split('site-packages/')[-1] for _, file in entries}
  # TFDS's own import, the metadata module it imports on first use, grain's parquet source.
  assert any('tensorflow_datasets/core/dataset_metadata' in w for w in windows), windows
  assert any(w.startswith('grain/') for w in windows), windows
  assert [w for enabled, w in entries if enabled] == []
