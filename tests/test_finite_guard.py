"""A non-finite loss, gradient norm or state stops training at that step; nothing non-finite is ever saved.

The toy model of tests/test_train.py: a NaN step leaves the (donated) state exactly as it was; an absurd
learning rate stops the run with an error naming the step and the last good checkpoint; a NaN clip in the data
stops it at its step, and a resumed run from the last good checkpoint trains to the end.
"""

from __future__ import annotations

import jax
import numpy as np
import pytest

from skeljax import checkpointing, finite_guard, logging_utils, models, sharding, train
from test_train import TOY, toy_config, toy_data, toy_records


@pytest.fixture(autouse=True)
def _register_toy(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'toy', TOY)


def _saved_steps(workdir) -> list[int]:
  return sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())


def _assert_all_finite(workdir) -> None:
  for step in _saved_steps(workdir):
    tree = checkpointing.load_model_state(workdir / 'checkpoints' / str(step))
    for path, leaf in jax.tree_util.tree_leaves_with_path(tree):
      assert np.isfinite(leaf).all(), f'step {step}: {jax.tree_util.keystr(path)} is not finite'


def test_a_nan_step_returns_the_donated_state_unchanged():
  cfg = toy_config()
  mesh = sharding.make_mesh()
  batch = next(iter(toy_data(cfg).train_iterator()))
  step_cfg = train.make_step_config(cfg, steps_per_epoch=3)
  state = train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)
  p_step = train.jit_train_step(step_cfg, mesh, state)
  state, good = p_step(state, sharding.shard_batch(batch, mesh))
  before = jax.device_get(state)
  poisoned = dict(batch, inputs=np.where(np.arange(batch['inputs'].size).reshape(batch['inputs'].shape) == 5,
                                         np.nan, batch['inputs']).astype(np.float32))
  after, bad = p_step(state, sharding.shard_batch(poisoned, mesh))  # `state` is donated here
  assert bool(good['finite']) and not bool(bad['finite']) and np.isnan(float(bad['grad_norm']))
  for (path, x), y in zip(jax.tree_util.tree_leaves_with_path(before), jax.tree.leaves(jax.device_get(after))):
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
      x, y = jax.random.key_data(x), jax.random.key_data(y)
    np.testing.assert_array_equal(x, y, err_msg=jax.tree_util.keystr(path))


@pytest.mark.slow  # ~6 s; the NaN-clip test below is the fast path (test_main runs this case through the CLI)
def test_an_absurd_learning_rate_stops_the_run_and_saves_nothing_non_finite(tmp_path):
  cfg = toy_config(num_epochs=2)
  cfg.optimizer.lr = 1e12
  cfg.checkpoint.every_steps = 1
  cfg.checkpoint.keep_latest = 10
  with pytest.raises(finite_guard.NonFiniteError, match=r'training stopped at step (\d+): ') as error:
    train.train_and_evaluate(cfg, tmp_path, data=toy_data(cfg))
  failed = int(error.value.args[0].split('step ')[1].split(':')[0])
  steps = _saved_steps(tmp_path)
  # Every step before the failure was saved (every_steps=1); the failed one and those after it were not.
  assert steps == list(range(1, failed)) and failed >= 2
  assert f'Last good checkpoint: {tmp_path / "checkpoints" / str(failed - 1)}.' in str(error.value)
  _assert_all_finite(tmp_path)


def test_a_nan_clip_stops_at_its_step_and_the_run_resumes_from_the_last_good_checkpoint(tmp_path):
  cfg = toy_config(num_epochs=2)  # 24 clips, batch 8: 3 steps an epoch; saves at 2, 3 (epoch end), 4, 6
  cfg.checkpoint.every_steps = 2
  records = toy_records('train', 24)
  # Which clips does step 3 train on? The same loader, with a pipeline that only reports each clip's index.
  tag = lambda r, rng: {'inputs': np.zeros(1, np.float32), 'label': np.int32(int(r['frame_dir'].split('_')[-1]))}
  tagged = train.Data(records, tag, toy_data(cfg).val, cfg.global_batch_size, train.data_seed(cfg.seed))
  batches = tagged.train_iterator()
  victim = int([next(batches) for _ in range(3)][2]['label'][0])
  assert records[victim]['frame_dir'].endswith(f'_{victim:05d}')
  poisoned = list(records)
  poisoned[victim] = dict(records[victim], keypoint=np.full_like(records[victim]['keypoint'], np.nan))
  data = toy_data(cfg)
  data.train_records = poisoned

  with pytest.raises(finite_guard.NonFiniteError) as error:
    train.train_and_evaluate(cfg, tmp_path, data=data)
  message = str(error.value)
  assert message.startswith('training stopped at step 3: the loss or gradient norm is not finite (')
  assert f'Last good checkpoint: {tmp_path / "checkpoints" / "2"}.' in message
  assert _saved_steps(tmp_path) == [2]
  _assert_all_finite(tmp_path)

  resumed = train.train_and_evaluate(cfg, tmp_path, data=toy_data(cfg))  # the data fixed
  assert resumed['step'] == 6 and not resumed['preempted']
  _assert_all_finite(tmp_path)
  # The resumed run logged steps 3-6 anew, all finite: nothing of the failed attempt past step 2 remains.
  train_records = [r for r in logging_utils.read_metrics(tmp_path) if r['split'] == 'train']
  assert [r['step'] for r in train_records] == list(range(1, 7))
  assert all(np.isfinite(r['loss']) for r in train_records)
