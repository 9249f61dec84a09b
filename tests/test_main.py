"""``python -m skeljax.main`` end to end: a missing dataset, train -> eval -> result pickle, overrides."""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import jax
import numpy as np
import pytest

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

# A config file for the CLI: the toy model of test_train on a slice of the built synthetic dataset.
TOY_CONFIG = textwrap.dedent('''
    from skeljax import models
    from test_train import TOY, toy_config

    def get_config(arg=None):
      models.MODELS['toy'] = TOY
      c = toy_config(num_epochs=2)
      c.dataset.name = 'synthetic_skeleton/ntu25_3d'
      c.dataset.train_split = 'train[:16]'
      c.dataset.val_split = 'val[:10]'
      c.dataset.test_split = 'test[:12]'
      c.checkpoint['async'] = False
      return c
''')


def run_main(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
  env = dict(os.environ, JAX_PLATFORMS='cpu', PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))
  return subprocess.run([sys.executable, '-m', 'skeljax.main', *args], env=env, cwd=REPO, capture_output=True,
                        text=True, timeout=timeout, check=False)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from data_builders import build  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp('tfds')
  build.build('synthetic_skeleton/ntu25_3d', data_dir=path, max_examples_per_split=16)
  return path


def test_missing_dataset_prints_the_build_command(tmp_path):
  proc = run_main('--config=configs/stgcn_synthetic.py', f'--workdir={tmp_path / "wd"}',
                  f'--config.dataset.data_dir={tmp_path / "empty"}')
  assert proc.returncode == 2
  assert 'Traceback' not in proc.stderr
  assert f'python -m data_builders.build synthetic_skeleton/ntu25_3d --data_dir={tmp_path / "empty"}' in proc.stderr


def test_train_then_eval_writes_a_result_pickle(tmp_path, data_dir):
  config = tmp_path / 'toy_config.py'
  config.write_text(TOY_CONFIG)
  workdir = tmp_path / 'wd'
  common = [f'--config={config}', f'--workdir={workdir}', f'--config.dataset.data_dir={data_dir}']
  proc = run_main(*common, '--config.optimizer.lr=0.05', '--config.global_batch_size=4')
  assert proc.returncode == 0, proc.stderr[-3000:]
  assert 'final: top1' in proc.stdout
  meta = json.loads((workdir / 'checkpoints' / '8' / 'meta' / 'metadata').read_text())
  assert meta['step'] == 8  # 16 clips / batch 4 x 2 epochs: the override took effect
  assert meta['config']['optimizer']['lr'] == 0.05 and meta['config']['global_batch_size'] == 4

  out = tmp_path / 'result.pkl'
  proc = run_main(*common, '--mode=eval', f'--out={out}', '--checkpoint=latest')  # a word, not a folder name
  assert proc.returncode == 0, proc.stderr[-3000:]
  printed = dict(line.split(': ', 1) for line in proc.stdout.splitlines() if ': ' in line)
  assert printed['num_samples'] == '12' and printed['checkpoint'].endswith('checkpoints/8')
  from skeljax import metrics  # pylint: disable=g-import-not-at-top
  from skeljax.tools import fuse  # pylint: disable=g-import-not-at-top
  scores, labels = fuse.load_results(out)
  assert scores.shape == (12, 13)
  np.testing.assert_allclose(scores.sum(axis=1), 1.0, rtol=1e-5)  # clip-averaged probabilities
  assert float(printed['top1']) == pytest.approx(metrics.top_k_accuracy(scores, labels, (1,))[0], abs=1e-4)
  assert float(printed['mean_class_accuracy']) == pytest.approx(metrics.mean_class_accuracy(scores, labels),
                                                                abs=1e-4)
  # The test split's labels, in dataset order.
  from skeljax.data import sources  # pylint: disable=g-import-not-at-top
  source = sources.open_source('synthetic_skeleton/ntu25_3d', 'test[:12]', data_dir=data_dir)
  assert labels.tolist() == [source[i]['label'] for i in range(12)]


def test_unknown_override_is_rejected(tmp_path):
  proc = run_main('--config=configs/stgcn_synthetic.py', f'--workdir={tmp_path}', '--config.optimizer.lrr=1')
  assert proc.returncode != 0 and 'lrr' in proc.stderr


@pytest.mark.slow  # ~30-50 s on 2 cores: a full ST-GCN compile in a subprocess
def test_an_absurd_learning_rate_exits_non_zero_naming_the_step_and_the_last_good_checkpoint(tmp_path, data_dir):
  workdir = tmp_path / 'wd'
  proc = run_main('--config=configs/stgcn_synthetic.py:smoke', f'--workdir={workdir}',
                  f'--config.dataset.data_dir={data_dir}', '--config.dataset.train_split=train[:16]',
                  '--config.dataset.val_split=val[:16]', '--config.optimizer.lr=1e12', '--config.num_epochs=3',
                  '--config.checkpoint.every_steps=1', '--config.checkpoint.keep_latest=10')
  assert proc.returncode == 1 and 'Traceback' not in proc.stderr, proc.stderr[-3000:]
  error = proc.stderr.splitlines()[-1]
  assert error.startswith('error: training stopped at step ') and 'not finite' in error
  failed = int(error.split('step ')[1].split(':')[0])
  from skeljax import checkpointing  # pylint: disable=g-import-not-at-top
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  assert steps == list(range(1, failed))
  if steps:
    assert f'Last good checkpoint: {workdir / "checkpoints" / str(steps[-1])}.' in error
  for step in steps:
    for leaf in jax.tree.leaves(checkpointing.load_model_state(workdir / 'checkpoints' / str(step))):
      assert np.isfinite(leaf).all()
