"""Two-process ``jax.distributed`` training on loopback (2 processes x 2 CPU devices).

Each process loads only its slice of every global batch; the run must train, evaluate, checkpoint (one
data-iterator state per process) and end with the same parameters as one process with 4 devices.
"""

from __future__ import annotations

import json
import os
import pathlib
import socket
import subprocess
import sys
import textwrap

import numpy as np

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

SCRIPT = textwrap.dedent('''
    import json, sys
    import jax
    port, process_id, num_processes, workdir = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    from skeljax import sharding
    if num_processes > 1:
      assert sharding.maybe_initialize_distributed(f'127.0.0.1:{port}', num_processes, process_id)
    import numpy as np
    from skeljax import checkpointing, models, train
    from test_train import TOY, toy_config, toy_data
    models.MODELS['toy'] = TOY
    assert jax.device_count() == 4 and jax.process_count() == num_processes
    # No dropout: its masks follow batch rows, and the rows of a global batch are ordered by host.
    cfg = toy_config(global_batch_size=8, num_epochs=1, model=dict(name='toy', num_classes=13, dropout=0.0))
    cfg.eval.batch_size = 4
    result = train.train_and_evaluate(cfg, workdir, data=toy_data(cfg, num_train=16, num_val=10))
    # Every process restores (orbax synchronises them); process 0 reports.
    params = checkpointing.load_model_state(checkpointing.resolve_step_dir(workdir, prefer='latest'))
    if jax.process_index() == 0:
      flat = [np.asarray(x).ravel().tolist() for x in jax.tree.leaves(params)]
      print('RESULT' + json.dumps(dict(result=result, params=flat)))
''')


def _free_port() -> int:
  with socket.socket() as s:
    s.bind(('127.0.0.1', 0))
    return s.getsockname()[1]


def _launch(args, devices: int) -> subprocess.Popen:
  env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(devices), JAX_PLATFORMS='cpu',
             PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))
  return subprocess.Popen([sys.executable, '-c', SCRIPT, *map(str, args)], env=env, cwd=REPO,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _finish(proc: subprocess.Popen, timeout: int = 240) -> str:
  try:
    stdout, stderr = proc.communicate(timeout=timeout)
  except subprocess.TimeoutExpired:
    proc.kill()
    stdout, stderr = proc.communicate()
  assert proc.returncode == 0, stderr[-4000:]
  return stdout


def _result(stdout: str) -> dict:
  return json.loads(stdout.split('RESULT', 1)[1])


def test_two_process_training_matches_single_process(tmp_path):
  port = _free_port()
  procs = [_launch([port, i, 2, tmp_path / 'multi'], devices=2) for i in range(2)]
  outputs = [_finish(p) for p in procs]
  multi = _result(outputs[0])
  assert 'RESULT' not in outputs[1]  # only process 0 reports
  ckpt = tmp_path / 'multi' / 'checkpoints'
  last = max(int(p.name) for p in ckpt.iterdir() if p.name.isdigit())
  assert last == 2 and multi['result']['step'] == 2
  assert sorted(p.name for p in (ckpt / str(last) / 'data_iter').glob('process_*.json')) == \
      ['process_0-of-2.json', 'process_1-of-2.json']
  # Only process 0 writes logs.
  assert (tmp_path / 'multi' / 'metrics.jsonl').is_file()

  single = _result(_finish(_launch([0, 0, 1, tmp_path / 'single'], devices=4)))
  # Same global batches (rows in another order: each host holds its slice), so the same training.
  for a, b in zip(multi['params'], single['params']):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  assert multi['result']['top1'] == single['result']['top1']
