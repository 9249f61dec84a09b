"""Data-parallel sharding on 8 fake CPU devices (a subprocess: the device count is fixed at JAX start-up).

8 devices must reproduce the 1-device loss curve for the same global batch (BatchNorm statistics are global,
the gradient is the global mean) and the same evaluation scores, padding included.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from skeljax import sharding

TESTS = pathlib.Path(__file__).resolve().parent
REPO = TESTS.parent

SCRIPT = textwrap.dedent('''
    import json, sys
    import jax, numpy as np
    from skeljax import models, sharding, train
    from test_train import TOY, toy_config, toy_data
    models.MODELS['toy'] = TOY
    assert jax.device_count() == 8, jax.devices()
    cfg = toy_config(global_batch_size=16)
    cfg.eval.batch_size = 8
    data = toy_data(cfg, num_train=32, num_val=13)
    it = data.train_iterator()
    batches = [next(it) for _ in range(4)]
    out = {}
    for n in (8, 1):
      mesh = sharding.make_mesh(n)
      step_cfg = train.make_step_config(cfg, steps_per_epoch=2)
      state = train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)
      step = train.jit_train_step(step_cfg, mesh, state)
      losses = []
      for b in batches:
        state, m = step(state, sharding.shard_batch(b, mesh))
        losses.append(float(m['loss']))
      eval_step = train.jit_eval_step(step_cfg.replace(graphdef=train.model_graphdefs(cfg.model)[1]), mesh, state)
      scores, labels, index = train.predict_split(eval_step, state, data.val.batches(), mesh)
      shardings = {str(x.sharding.spec) for x in jax.tree.leaves(state)}
      out[n] = dict(losses=losses, scores=scores.tolist(), index=index.tolist(),
                    params=[np.asarray(x).ravel().tolist() for x in jax.tree.leaves(state.params)],
                    devices=len(state.step.sharding.device_set), specs=sorted(shardings))
    print('RESULT' + json.dumps(out))
''')


def run_with_devices(script: str, num_devices: int, timeout: int = 300) -> str:
  env = dict(os.environ, JAX_NUM_CPU_DEVICES=str(num_devices), JAX_PLATFORMS='cpu',
             PYTHONPATH=os.pathsep.join([str(REPO), str(TESTS)]))
  proc = subprocess.run([sys.executable, '-c', script], env=env, capture_output=True, text=True, timeout=timeout,
                        cwd=REPO, check=False)
  assert proc.returncode == 0, proc.stderr[-4000:]
  return proc.stdout


def test_eight_devices_match_one_device():
  stdout = run_with_devices(SCRIPT, 8)
  out = json.loads(stdout.split('RESULT', 1)[1])
  eight, one = out['8'], out['1']
  assert eight['devices'] == 8 and one['devices'] == 1
  assert eight['specs'] == ['P()']  # all state replicated
  np.testing.assert_allclose(eight['losses'], one['losses'], rtol=1e-5)
  for a, b in zip(eight['params'], one['params']):
    np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)
  # 13 validation samples in padded batches of 8: each counted once, in dataset order, same scores.
  assert eight['index'] == list(range(13)) == one['index']
  np.testing.assert_allclose(eight['scores'], one['scores'], rtol=1e-5, atol=1e-6)


def test_batch_must_divide_over_devices():
  mesh = sharding.make_mesh()
  assert sharding.per_process_batch_size(4 * mesh.size, mesh) == 4 * mesh.size
  with pytest.raises(ValueError, match='not divisible'):
    sharding.per_process_batch_size(7, FakeMesh(2))


class FakeMesh:
  """Only ``size`` is read by ``per_process_batch_size``."""

  def __init__(self, size):
    self.size = size
