"""``make demo`` (``python -m skeljax.demo``): the CI smoke run of the same path, and the full run (slow)."""

from __future__ import annotations

import pytest

from skeljax import checkpointing, demo, logging_utils


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  path = tmp_path_factory.mktemp('tfds')
  assert demo.ensure_dataset(path)  # built now
  assert not demo.ensure_dataset(path)  # idempotent: found, not rebuilt
  return path


def test_demo_smoke_runs_end_to_end(data_dir, tmp_path):
  results = demo.run_demo(data_dir, tmp_path, smoke=True)
  assert results['step'] == 4 and not results['preempted']
  assert 0.0 <= results['top1'] <= 1.0 and 'mean_class_accuracy' in results
  records = logging_utils.read_metrics(tmp_path)
  assert [r['step'] for r in records if r['split'] == 'val'] == [4]
  assert checkpointing.resolve_step_dir(tmp_path, prefer='latest').name == '4'
  assert (tmp_path / 'curves.png').is_file() and list((tmp_path / 'tensorboard').iterdir())


@pytest.mark.slow  # the real demo: a few minutes on 2 CPU cores
def test_demo_reaches_ninety_percent(data_dir, tmp_path):
  results = demo.run_demo(data_dir, tmp_path)
  assert results['top1'] >= demo.TARGET_TOP1, results
