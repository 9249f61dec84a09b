"""Checkpoint layout, best/latest preservation across restarts, and evaluation of converted MMAction2 models."""

from __future__ import annotations

import pathlib
import pickle

import jax.numpy as jnp
import numpy as np
import pytest

from skeljax import checkpointing, evaluate, models, sharding, train
from test_train import TOY, toy_config


@pytest.fixture(autouse=True)
def _register_toy(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'toy', TOY)


def _steps(directory):
  return sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit())


def test_latest_and_best_survive_a_restart(tmp_path):
  manager = checkpointing.create_manager(tmp_path, {'keep_latest': 1, 'keep_best': 1, 'async': True})
  for step, top1 in [(1, 0.5), (2, 0.9), (3, 0.1)]:
    checkpointing.save(manager, step, model={'w': jnp.full(2, step)}, metrics={'top1': top1})
  checkpointing.save(manager, 4, model={'w': jnp.full(2, 4)})  # a periodic save without metrics
  manager.wait_until_finished()
  manager.close()
  assert _steps(tmp_path / 'checkpoints') == [2, 4]
  # A new manager (the run was restarted) still knows step 2 is the best and keeps it.
  manager = checkpointing.create_manager(tmp_path, {'keep_latest': 1, 'keep_best': 1})
  checkpointing.save(manager, 5, model={'w': jnp.full(2, 5)}, metrics={'top1': 0.2})
  manager.wait_until_finished()
  manager.close()
  assert _steps(tmp_path / 'checkpoints') == [2, 5]
  assert checkpointing.resolve_step_dir(tmp_path).name == '2'
  assert checkpointing.resolve_step_dir(tmp_path, prefer='latest').name == '5'
  assert checkpointing.resolve_step_dir(tmp_path / 'checkpoints', 5).name == '5'
  np.testing.assert_array_equal(checkpointing.load_model_state(tmp_path / 'checkpoints' / '2')['w'], [2, 2])


def test_missing_checkpoints_are_reported_clearly(tmp_path):
  with pytest.raises(FileNotFoundError, match='no checkpoint found'):
    checkpointing.resolve_step_dir(tmp_path / 'nothing')
  (tmp_path / 'checkpoints').mkdir()
  with pytest.raises(FileNotFoundError, match='no checkpoint steps'):
    checkpointing.resolve_step_dir(tmp_path)
  checkpointing.save_model_checkpoint(tmp_path, {'w': np.ones(2, np.float32)}, step=0)
  with pytest.raises(FileNotFoundError, match=r'step 7 not in .*available: \[0\]'):
    checkpointing.resolve_step_dir(tmp_path, 7)
  # E.g. a converted .pth whose weights hold a NaN: no checkpoint is written.
  with pytest.raises(ValueError, match=r"\['head'\]\['b'\] holds 1 non-finite values"):
    checkpointing.save_model_checkpoint(tmp_path, {'head': {'b': np.array([1, np.inf], np.float32)}}, step=1)
  assert not (tmp_path / 'checkpoints' / '1').exists()


def test_model_only_checkpoint_round_trips_into_an_eval_state(tmp_path):
  """The converter layout (step 0: ``model`` + ``meta`` only) loads for evaluation, exactly."""
  cfg = toy_config()
  mesh = sharding.make_mesh()
  source = train.create_train_state(cfg.model, train.make_step_config(cfg, 1).tx, 7, mesh)
  tree = train.model_pure_dict(source)
  step_dir = checkpointing.save_model_checkpoint(tmp_path / 'converted', tree, meta={'source': 'x.pth'})
  assert sorted(p.name for p in step_dir.iterdir() if not p.name.startswith('_') and '.' not in p.name) == \
      ['meta', 'model']
  assert checkpointing.load_meta(step_dir) == {'source': 'x.pth', 'step': 0}
  state, found = evaluate.load_state_for_eval(cfg, None, tmp_path / 'converted', mesh)
  assert found == step_dir
  loaded = train.model_pure_dict(state)
  for key in ('proj', 'fc', 'bn'):
    for leaf, value in tree[key].items():
      np.testing.assert_array_equal(np.asarray(loaded[key][leaf]), np.asarray(value), err_msg=f'{key}/{leaf}')


@pytest.mark.slow  # ~15 s CPU (full ST-GCN compile), more on a loaded machine
def test_eval_parity_converted_mmaction_stgcn(parity_1x, tmp_path):
  """``.pth`` -> converter -> ``evaluate``: probabilities equal MMAction2's softmax; the dump is readable."""
  from skeljax.checkpoint import convert  # pylint: disable=g-import-not-at-top
  from skeljax.tools import fuse  # pylint: disable=g-import-not-at-top
  model_cfg = {'name': 'stgcn', 'num_classes': 60}
  model = convert.convert_checkpoint(model_cfg, parity_1x.path('stgcn_state_dict.pth'), '1.x')
  convert.save_converted(model, tmp_path / 'converted', {'source': 'stgcn_state_dict.pth'})
  x = parity_1x.require(parity_1x.npz('stgcn_input.npz'), 'x')
  ref = parity_1x.npz('stgcn_logits.npz')
  labels = parity_1x.require(parity_1x.npz('stgcn_train_mode.npz'), 'labels')
  records = [{'inputs': x[i], 'label': np.int32(labels[i])} for i in range(len(x))]
  cfg = toy_config(model=model_cfg)
  data = train.EvalData(records, lambda r, rng: dict(r), global_batch_size=4)
  out = tmp_path / 'result.pkl'
  results = evaluate.evaluate(cfg, tmp_path / 'converted', out=out, data=data)
  scores, gt = fuse.load_results(out)
  np.testing.assert_allclose(scores, parity_1x.require(ref, 'softmax'), rtol=1e-4, atol=1e-6)
  np.testing.assert_array_equal(gt, labels)
  with out.open('rb') as f:
    first = pickle.load(f)[0]
  assert first['pred_score'].dtype == np.float32 and first['pred_score'].shape == (60,)
  assert first['pred_label'].tolist() == [int(np.argmax(ref['softmax'][0]))]
  assert results['top1'] == pytest.approx(
      np.mean(np.argmax(ref['softmax'], 1) == labels))


def _toy_workdir(tmp_path, scores):
  """A workdir whose step ``s`` holds the toy model with its fc bias filled with ``s``; ``scores[s]`` is the
  step's validation top-1 (None: a periodic save without metrics)."""
  cfg = toy_config()
  state = train.create_train_state(cfg.model, train.make_step_config(cfg, 1).tx, 0, sharding.make_mesh())
  tree = train.model_pure_dict(state)
  manager = checkpointing.create_manager(tmp_path, {'keep_latest': 10, 'keep_best': 10, 'async': False})
  for step, top1 in scores.items():
    model = dict(tree, fc=dict(tree['fc'], bias=np.full_like(tree['fc']['bias'], step)))
    checkpointing.save(manager, step, model=model, metrics=None if top1 is None else {'top1': top1})
  manager.wait_until_finished()
  manager.close()
  return cfg, tmp_path


def test_best_and_latest_name_steps_for_eval_export_and_predict(tmp_path):
  from skeljax import export, predict  # pylint: disable=g-import-not-at-top
  cfg, workdir = _toy_workdir(tmp_path, {1: 0.9, 2: 0.1, 3: None})
  resolve = checkpointing.resolve_checkpoint
  assert [resolve(c, workdir).name for c in ('best', 'latest', None, '2', 2)] == ['1', '3', '1', '2', '2']
  # A folder is a folder; the words are looked up in --workdir, never taken as a folder name.
  assert resolve(workdir / 'checkpoints', None).name == '1'
  with pytest.raises(FileNotFoundError, match='--checkpoint=latest is looked up in the run folder'):
    resolve('latest', None)

  state, step_dir = evaluate.load_state_for_eval(cfg, 'latest', workdir, sharding.make_mesh())
  assert step_dir.name == '3' and np.all(np.asarray(train.model_pure_dict(state)['fc']['bias']) == 3)
  model, step_dir = export.load_model(cfg, workdir, 'best')
  assert step_dir.name == '1' and np.all(np.asarray(model.fc.bias.get_value()) == 1)
  for checkpoint, step in (('latest', '3'), (None, '1')):
    assert pathlib.Path(predict.Predictor(workdir, cfg, checkpoint=checkpoint).source).name == step

  unscored = tmp_path / 'unscored'
  manager = checkpointing.create_manager(unscored, {'keep_latest': 2, 'async': False})
  for step in (4, 5):
    checkpointing.save(manager, step, model={'w': np.full(2, step, np.float32)})
  manager.close()
  assert resolve(None, unscored).name == '5'  # no metric anywhere: the default falls back to the latest
  with pytest.raises(FileNotFoundError, match=r'no checkpoint in .* has a validation top1 .*steps: \[4, 5\]'):
    resolve('best', unscored)  # asked for explicitly, "best" must mean best
