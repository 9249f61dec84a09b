"""A training run killed from outside resumes exactly: ``python -m skeljax.main`` under SIGKILL and SIGTERM.

Three runs of the same command on the toy model (tests/test_train.py) over the built synthetic dataset:
an uninterrupted reference; a run SIGKILLed as soon as its first checkpoint is on disk (asynchronous saves, so
the kill can land in the middle of the next one), resumed, SIGTERMed, and resumed again to the end. The
final weights must equal the reference bit for bit, and every logged training loss (one per step) too, which
only holds if the data order survived both interruptions. Also: another seed changes init and data order.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import textwrap
import time

import jax
import numpy as np
import pytest

from skeljax import checkpointing, logging_utils

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent
TOTAL_STEPS = 24  # 48 clips / batch 4 x 2 epochs
SLEEP_PER_CLIP = 0.03  # host-side delay per clip: ~0.1 s a step, so a kill lands mid-run


class SlowDown:
  """Pipeline op that only sleeps: stretches each step so that signals arrive while training runs."""

  def __init__(self, seconds: float):
    self.seconds = seconds

  def __call__(self, results, rng=None):  # pylint: disable=unused-argument
    time.sleep(self.seconds)
    return results


CONFIG = textwrap.dedent(f'''
    from skeljax import models
    from skeljax.data import pipeline
    from test_resume import SlowDown
    from test_train import GCN_PIPELINE, TOY, toy_config

    def get_config(arg=None):
      models.MODELS['toy'] = TOY
      pipeline._LOCAL['SlowDown'] = SlowDown  # test-only op
      c = toy_config(num_epochs=2, global_batch_size=4)
      c.dataset.name = 'synthetic_skeleton/ntu25_3d'
      c.dataset.train_split = 'train[:48]'
      c.dataset.val_split = 'val[:8]'
      c.train_pipeline = [dict(type='SlowDown', seconds={SLEEP_PER_CLIP})] + list(GCN_PIPELINE)
      c.checkpoint.every_steps = 4
      c.checkpoint['async'] = True
      return c
''')


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from data_builders import build  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp('tfds')
  build.build('synthetic_skeleton/ntu25_3d', data_dir=path, max_examples_per_split=48)
  return path


@pytest.fixture(scope='module')
def config_file(tmp_path_factory):
  path = tmp_path_factory.mktemp('config') / 'resume_config.py'
  path.write_text(CONFIG)
  return path


def _command(config_file, workdir, data_dir, *overrides):
  return [sys.executable, '-m', 'skeljax.main', f'--config={config_file}', f'--workdir={workdir}',
          f'--config.dataset.data_dir={data_dir}', *overrides]


def _env():
  return dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))


def _run(cmd, timeout=300):
  proc = subprocess.run(cmd, env=_env(), cwd=REPO, capture_output=True, text=True, timeout=timeout, check=False)
  return proc


def _saved_steps(workdir) -> list[int]:
  """Finalised checkpoint steps (orbax renames a step's temporary folder to its number when done)."""
  folder = pathlib.Path(workdir) / 'checkpoints'
  return sorted(int(p.name) for p in folder.glob('*') if p.name.isdigit()) if folder.is_dir() else []


def _start_and_signal(cmd, workdir, signum, after_step, timeout=300) -> subprocess.CompletedProcess:
  """Starts ``cmd``, sends ``signum`` once a checkpoint later than ``after_step`` is on disk, waits."""
  proc = subprocess.Popen(cmd, env=_env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
  deadline = time.monotonic() + timeout
  while proc.poll() is None and time.monotonic() < deadline:
    if any(step > after_step for step in _saved_steps(workdir)):
      proc.send_signal(signum)
      break
    time.sleep(0.01)
  stdout, stderr = proc.communicate(timeout=timeout)
  return subprocess.CompletedProcess(cmd, proc.returncode, stdout, stderr)


def _final_model(workdir) -> dict:
  step_dir = checkpointing.resolve_step_dir(workdir, prefer='latest')
  assert step_dir.name == str(TOTAL_STEPS)
  return checkpointing.load_model_state(step_dir)


def _train_losses(workdir) -> dict[int, float]:
  records = [r for r in logging_utils.read_metrics(workdir) if r['split'] == 'train']
  steps = [r['step'] for r in records]
  assert steps == sorted(set(steps)), f'duplicate or unordered train records: {steps}'
  return {r['step']: r['loss'] for r in records}


def _assert_same_weights(a, b):
  flat_a, flat_b = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
  assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
  for (path, x), (_, y) in zip(flat_a, flat_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path))


def _label_only(results, rng):  # pylint: disable=unused-argument
  return {'label': np.int32(results['label'])}


@pytest.fixture(scope='module')
def reference(tmp_path_factory, config_file, data_dir):
  workdir = tmp_path_factory.mktemp('reference')
  proc = _run(_command(config_file, workdir, data_dir))
  assert proc.returncode == 0, proc.stderr[-3000:]
  return workdir


def test_sigkill_and_sigterm_resume_bit_identical(reference, config_file, data_dir, tmp_path):
  workdir = tmp_path / 'run'
  cmd = _command(config_file, workdir, data_dir)

  killed = _start_and_signal(cmd, workdir, signal.SIGKILL, after_step=0)
  assert killed.returncode == -signal.SIGKILL, killed.stderr[-3000:]
  first = max(_saved_steps(workdir))
  assert 0 < first < TOTAL_STEPS

  stopped = _start_and_signal(cmd, workdir, signal.SIGTERM, after_step=first)
  assert f'resumed from step {first}' in stopped.stdout, stopped.stdout[-2000:] + stopped.stderr[-2000:]
  assert stopped.returncode == 143, stopped.stderr[-3000:]  # graceful: saved after the current step
  assert 'stopped at step' in stopped.stderr + stopped.stdout
  second = max(_saved_steps(workdir))
  assert first < second < TOTAL_STEPS
  assert checkpointing.load_meta(checkpointing.resolve_step_dir(workdir, prefer='latest'))['step'] == second

  finished = _run(cmd)
  assert finished.returncode == 0, finished.stderr[-3000:]
  assert f'resumed from step {second}' in finished.stdout

  _assert_same_weights(_final_model(reference), _final_model(workdir))
  reference_losses, losses = _train_losses(reference), _train_losses(workdir)
  assert sorted(losses) == list(range(1, TOTAL_STEPS + 1))
  assert losses == reference_losses  # same batches in the same order, to the bit


def test_another_seed_changes_init_and_data_order(data_dir, monkeypatch):
  from skeljax import models, sharding, train  # pylint: disable=g-import-not-at-top
  from skeljax.data import sources  # pylint: disable=g-import-not-at-top
  records = sources.open_split('synthetic_skeleton/ntu25_3d', 'train[:48]', data_dir=data_dir)
  first_labels = []
  for seed in (0, 1):
    data = train.Data(records, _label_only, None, 8, train.data_seed(seed))
    first_labels.append(next(data.train_iterator())['label'].tolist())
  assert first_labels[0] != first_labels[1]

  from test_train import TOY, toy_config  # pylint: disable=g-import-not-at-top
  monkeypatch.setitem(models.MODELS, 'toy', TOY)
  mesh = sharding.make_mesh()
  cfg = toy_config()
  tx = train.make_step_config(cfg, steps_per_epoch=1).tx
  kernels = [np.asarray(train.create_train_state(cfg.model, tx, seed, mesh).params['proj']['kernel'].get_value())
             for seed in (0, 1)]
  assert not np.array_equal(*kernels)
