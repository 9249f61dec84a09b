"""The training engine: train step against MMAction2's gradients, bf16, determinism, resume, preemption.

``ToyRecognizer`` (a few thousand parameters, BatchNorm + dropout) keeps the loop tests fast; the parity test
uses the real ST-GCN. Other test files (sharding, multi-host) import ``toy_config`` / ``toy_data`` from here.
"""

from __future__ import annotations

import collections
import functools
import os
import signal
import threading

import jax
import jax.numpy as jnp
from jax.extend import core as jax_core
import ml_collections
from ml_collections import config_dict
import numpy as np
import optax
import pytest
from flax import nnx

from skeljax import checkpointing, models, sharding, train
from skeljax.data import synthetic
from skeljax.data.pipeline import build_pipeline
from skeljax.models import layers

TOY = 'test_train:ToyRecognizer'


class ToyRecognizer(nnx.Module):
  """``[N, clips, ..., C] -> [N, clips, classes]``: BatchNorm, a projection, dropout, mean pooling."""

  def __init__(self, *, num_classes: int, in_channels: int = 3, hidden: int = 16, dropout: float = 0.0,
               rngs: nnx.Rngs):
    self.bn_in = layers.BatchNorm(in_channels)
    self.proj = nnx.Linear(in_channels, hidden, rngs=rngs)
    self.bn = layers.BatchNorm(hidden)
    self.drop = nnx.Dropout(dropout, rngs=rngs)
    self.fc = nnx.Linear(hidden, num_classes, rngs=rngs)

  def __call__(self, x):
    n, clips, c = x.shape[0], x.shape[1], x.shape[-1]
    h = self.bn_in(x.reshape(n * clips, -1, c))
    h = jax.nn.relu(self.bn(self.proj(h))).mean(axis=1)
    return self.fc(self.drop(h)).reshape(n, clips, -1)


@pytest.fixture(autouse=True)
def _register_toy(monkeypatch):
  monkeypatch.setitem(models.MODELS, 'toy', TOY)


GCN_PIPELINE = [
    {'type': 'PreNormalize3D'}, {'type': 'GenSkeFeat', 'dataset': 'nturgb+d', 'feats': ['j']},
    {'type': 'UniformSampleFrames', 'clip_len': 12}, {'type': 'PoseDecode'},
    {'type': 'FormatGCNInput', 'num_person': 2}, {'type': 'PackActionInputs'}]


def toy_config(**overrides) -> ml_collections.ConfigDict:
  """A complete engine config for the toy model on synthetic clips."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.deterministic = False
  c.model = dict(name='toy', num_classes=13, dropout=0.2)
  c.dataset = dict(name='synthetic_skeleton', data_dir=config_dict.placeholder(str), train_split='train', val_split='val',
                   test_split='val', num_classes=13, layout='nturgb+d')
  c.train_pipeline = GCN_PIPELINE
  c.val_pipeline = GCN_PIPELINE
  c.test_pipeline = GCN_PIPELINE
  c.device_heatmap = None
  c.global_batch_size = 8
  c.num_epochs = 2
  c.dataset_repeat = 1
  c.optimizer = dict(name='sgd', lr=0.1, momentum=0.9, nesterov=True, weight_decay=5e-4)
  c.schedule = dict(name='cosine', by_iteration=True, eta_min=0.0)
  c.grad_clip_norm = None
  c.loss = dict(name='cross_entropy')
  c.eval = dict(every_epochs=1, num_clips=1, average_clips='prob', topk=(1, 5), batch_size=8)
  c.compute_dtype = 'float32'
  c.checkpoint = {'every_steps': 0, 'keep_latest': 1, 'keep_best': 1, 'async': True}
  c.log_every_steps = 1
  c.worker_count = 0
  c.init_from = config_dict.placeholder(str)
  for key, value in overrides.items():
    c[key] = value
  return c


_RECORDS = {}


def toy_records(split: str, n: int) -> list[dict]:
  key = (split, n)
  if key not in _RECORDS:
    _RECORDS[key] = list(synthetic.generate_split(split, n, seed=0, min_frames=20, max_frames=40))
  return _RECORDS[key]


def toy_data(cfg, num_train: int = 24, num_val: int = 10, pipeline=None) -> train.Data:
  pipeline = pipeline or build_pipeline(GCN_PIPELINE)
  val = train.EvalData(toy_records('val', num_val), pipeline, cfg.eval.batch_size)
  return train.Data(toy_records('train', num_train), pipeline, val, cfg.global_batch_size,
                    train.data_seed(cfg.seed), cfg.dataset_repeat)


def _params(workdir) -> dict:
  step_dir = checkpointing.resolve_step_dir(workdir, prefer='latest')
  return checkpointing.load_model_state(step_dir)


def _assert_trees_equal(a, b):
  flat_a, flat_b = jax.tree_util.tree_leaves_with_path(a), jax.tree_util.tree_leaves_with_path(b)
  assert [p for p, _ in flat_a] == [p for p, _ in flat_b]
  for (path, x), (_, y) in zip(flat_a, flat_b):
    np.testing.assert_array_equal(np.asarray(x), np.asarray(y), err_msg=jax.tree_util.keystr(path))


# ---------------------------------------------------------------------------------------------------------------


@pytest.mark.slow  # ~30-40 s on 2 shared cores (full ST-GCN compile); the toy test below covers CI
def test_train_step_parity_mmaction_stgcn_gradients(parity_1x):
  """One engine step on MMAction2's ST-GCN weights and batch: loss and every per-parameter gradient norm."""
  from skeljax.checkpoint.gcn_import import import_mmaction_gcn, mmaction_key_map  # pylint: disable=g-import-not-at-top
  from skeljax.checkpoint.torch_pickle import load_state_dict  # pylint: disable=g-import-not-at-top

  stats = parity_1x.json('stgcn_stats.json')['train_mode']
  ref = parity_1x.npz('stgcn_train_mode.npz')
  x = parity_1x.require(parity_1x.npz('stgcn_input.npz'), 'x')
  labels = parity_1x.require(ref, 'labels').astype(np.int32)
  cfg = toy_config(model=dict(name='stgcn', num_classes=60), global_batch_size=4)
  # lr 1, no momentum or decay: the update is exactly minus the gradient.
  cfg.optimizer = dict(name='sgd', lr=1.0, momentum=0.0, nesterov=False, weight_decay=0.0)
  cfg.schedule = dict(name='constant')
  mesh = sharding.make_mesh()
  step_cfg = train.make_step_config(cfg, steps_per_epoch=1)
  state = train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)
  model = train.nnx.merge(step_cfg.graphdef, state.params, state.batch_stats)
  import_mmaction_gcn(model, load_state_dict(parity_1x.path('stgcn_state_dict.pth')), '1.x')
  _, params, rest = nnx.split(model, nnx.Param, ...)
  state = jax.device_put(state.replace(params=params, batch_stats=rest), sharding.replicated(mesh))
  before = {k: np.asarray(v[...]) for k, v in nnx.to_flat_state(state.params)}
  key_map = mmaction_key_map(model, '1.x')  # before the step: the step donates (deletes) these buffers

  new_state, step_metrics = train.jit_train_step(step_cfg, mesh, state)(
      state, sharding.shard_batch({'inputs': x, 'label': labels}, mesh))
  np.testing.assert_allclose(float(step_metrics['loss']), float(stats['loss']), rtol=1e-5)
  np.testing.assert_allclose(float(step_metrics['grad_norm']), stats['grad_global_norm'], rtol=1e-4)

  after = {k: np.asarray(v[...]) for k, v in nnx.to_flat_state(new_state.params)}
  checked = 0
  for torch_key, torch_norm in stats['grad_norms'].items():
    path = key_map.params[torch_key][0]
    ours = float(np.linalg.norm((before[path] - after[path]).ravel()))
    # atol: a conv bias feeding a BatchNorm has a zero gradient in exact arithmetic; both sides hold only
    # float32 rounding noise there (~1e-7 against a global norm of ~7.6).
    np.testing.assert_allclose(ours, torch_norm, rtol=2e-3, atol=1e-6, err_msg=torch_key)
    checked += 1
  assert checked == len(before)  # every trainable parameter has a reference gradient


def test_train_step_matches_direct_gradient_and_pytorch_sgd():
  """The jitted step = autodiff of the train-mode loss + one PyTorch-SGD update (nesterov, decay)."""
  cfg = toy_config(model=dict(name='toy', num_classes=13, dropout=0.0))
  mesh = sharding.make_mesh()
  batch = next(iter(toy_data(cfg).train_iterator()))
  step_cfg = train.make_step_config(cfg, steps_per_epoch=3)
  state = train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)
  model = nnx.merge(step_cfg.graphdef, state.params, state.batch_stats, copy=True)
  model.train()

  def loss_fn(m):
    logits = m(jnp.asarray(batch['inputs']))[:, 0]
    return jnp.mean(-jax.nn.log_softmax(logits)[jnp.arange(8), batch['label']])

  loss, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model)
  want_params = {k: np.asarray(v[...]) for k, v in nnx.to_flat_state(nnx.state(model, nnx.Param))}
  grads = {k: np.asarray(v[...]) for k, v in nnx.to_flat_state(grads)}
  new_state, step_metrics = train.jit_train_step(step_cfg, mesh, state)(state, sharding.shard_batch(batch, mesh))
  assert float(step_metrics['loss']) == pytest.approx(float(loss), rel=1e-6)
  # PyTorch SGD first step: buf = g + wd * p; nesterov step along (1 + momentum) * buf.
  for k, v in nnx.to_flat_state(new_state.params):
    p0 = want_params[k]
    expected = p0 - 0.1 * (1 + 0.9) * (grads[k] + 5e-4 * p0)
    np.testing.assert_allclose(np.asarray(v[...]), expected, rtol=1e-5, atol=1e-7, err_msg=str(k))
  # BatchNorm running statistics moved with the batch (train mode), and the step counter advanced.
  assert int(new_state.step) == 1
  got_bn = dict(nnx.to_flat_state(new_state.batch_stats))
  np.testing.assert_allclose(np.asarray(got_bn[('bn', 'mean')][...]), np.asarray(model.bn.mean[...]), rtol=1e-5,
                             atol=1e-7)


TINY_POSEC3D = dict(num_stages=1, stage_blocks=(1,), out_indices=(0,), inflate=(1,), spatial_strides=(2,),
                    temporal_strides=(2,), dilations=(1,))
F32 = jnp.dtype(jnp.float32)
GCN_SHAPE = (2, 1, 2, 8, 25, 3)  # [N, clips, M, T, V, C]
MIXED_PRECISION_MODELS = {
    'stgcn_1x': (dict(name='stgcn', num_classes=5), GCN_SHAPE),
    'stgcn_0x': (dict(name='stgcn', num_classes=5, edition='0.x'), GCN_SHAPE),
    'agcn_0x': (dict(name='agcn', num_classes=5), GCN_SHAPE),
    'aagcn_attention': (dict(name='aagcn', num_classes=5, attention=True), GCN_SHAPE),
    'posec3d': (dict(name='posec3d', num_classes=5, backbone=TINY_POSEC3D), (2, 1, 4, 16, 16, 17)),
}


def _equations(jaxpr):
  """Every equation of ``jaxpr`` and, recursively, of its sub-jaxprs (jit, custom_jvp, ...)."""
  yield from jaxpr.eqns
  for sub in jax_core.subjaxprs(jaxpr):
    yield from _equations(sub)


def _matmul_operand_dtypes(jaxpr) -> list[tuple[str, ...]]:
  """Operand dtypes of every convolution and dot_general (einsum, Linear) in ``jaxpr``."""
  return [tuple(str(v.aval.dtype) for v in eqn.invars) for eqn in _equations(jaxpr)
          if eqn.primitive.name in ('conv_general_dilated', 'dot_general')]


def _all_dtypes(jaxpr) -> set[str]:
  return {str(v.aval.dtype) for eqn in _equations(jaxpr) for v in (*eqn.invars, *eqn.outvars)}


def _recording(tx: optax.GradientTransformation, seen: list) -> optax.GradientTransformation:
  """``tx`` that also records the dtypes of the gradients it is given (at trace time)."""

  def update(grads, opt_state, params=None):
    seen.extend(jnp.dtype(leaf.dtype) for leaf in jax.tree.leaves(grads))
    return tx.update(grads, opt_state, params)

  return optax.GradientTransformation(tx.init, update)


def _float_dtypes(tree) -> set:
  return {jnp.dtype(leaf.dtype) for leaf in jax.tree.leaves(tree) if jnp.issubdtype(leaf.dtype, jnp.floating)}


@pytest.mark.parametrize('name', [
    'stgcn_1x', 'posec3d',
    pytest.param('stgcn_0x', marks=pytest.mark.slow),  # the 1.x graph conv with another graph, head and init
    pytest.param('agcn_0x', marks=pytest.mark.slow),  # fast tier: one GCN (the shared units) and PoseC3D
    pytest.param('aagcn_attention', marks=pytest.mark.slow),
])
def test_bfloat16_step_runs_every_conv_and_matmul_in_bfloat16(name):
  """Traced (not run) train / eval steps: bf16 convs and matmuls, float32 master state, grads and scores."""
  model_cfg, shape = MIXED_PRECISION_MODELS[name]
  mesh = sharding.make_mesh()
  cfg = toy_config(model=model_cfg, compute_dtype='bfloat16', global_batch_size=shape[0])
  grad_dtypes = []
  step_cfg = train.make_step_config(cfg, steps_per_epoch=1)
  step_cfg = step_cfg.replace(tx=_recording(step_cfg.tx, grad_dtypes))
  state = jax.eval_shape(lambda: train.create_train_state(cfg.model, step_cfg.tx, 0, mesh))
  model = nnx.merge(step_cfg.graphdef, state.params, state.batch_stats)
  model.eval()
  eval_def = nnx.split(model, nnx.Param, ...)[0]  # as train.model_graphdefs, without building the model again
  batch = {'inputs': jax.ShapeDtypeStruct(shape, jnp.float32), 'label': jax.ShapeDtypeStruct(shape[:1], jnp.int32)}

  def trace(step_fn, config):
    return jax.make_jaxpr(jax.jit(functools.partial(step_fn, cfg=config)), return_shape=True)(state, batch)

  for dtype in (jnp.bfloat16, jnp.float32):
    grad_dtypes.clear()
    train_jaxpr, (new_state, _) = trace(train.train_step, step_cfg.replace(compute_dtype=dtype))
    eval_jaxpr, scores = trace(train.eval_step, step_cfg.replace(compute_dtype=dtype, graphdef=eval_def))
    assert _float_dtypes(new_state.params) == {F32}
    assert _float_dtypes(new_state.opt_state) <= {F32}
    assert _float_dtypes(new_state.batch_stats.filter(nnx.BatchStat)) == {F32}  # running mean / var
    assert _float_dtypes(new_state.batch_stats) == {F32}  # buffers such as A too
    assert set(grad_dtypes) == {F32} and len(grad_dtypes) == len(jax.tree.leaves(state.params))
    assert scores.dtype == F32
    for jaxpr in (train_jaxpr.jaxpr, eval_jaxpr.jaxpr):
      operands = _matmul_operand_dtypes(jaxpr)
      assert operands, 'no convolution or matmul found: the jaxpr walk is broken'
      if dtype == jnp.bfloat16:
        assert {d for ops in operands for d in ops} == {'bfloat16'}, collections.Counter(operands)
      else:
        assert 'bfloat16' not in _all_dtypes(jaxpr)


def random_step_setup(model_cfg: dict, shape: tuple):
  """A random batch of ``shape`` (labels 0..N-1), the step config of ``toy_config(model=model_cfg)`` and its
  initial state: ``(batch, step_cfg, state)`` on the default mesh."""
  mesh = sharding.make_mesh()
  rng = np.random.default_rng(0)
  batch = sharding.shard_batch({'inputs': rng.normal(size=shape).astype(np.float32),
                                'label': np.arange(shape[0], dtype=np.int32)}, mesh)
  cfg = toy_config(model=model_cfg, global_batch_size=shape[0])
  step_cfg = train.make_step_config(cfg, steps_per_epoch=1)
  return batch, step_cfg, train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)


@pytest.mark.parametrize('name', [
    'posec3d',
    pytest.param('stgcn_1x', marks=pytest.mark.slow),  # a full GCN compile: ~1 min per dtype on 2 shared cores
    pytest.param('aagcn_attention', marks=pytest.mark.slow),
])
def test_bfloat16_step_loss_is_close_to_float32(name):
  """One real step per dtype from the same init: close loss and gradient norm, float32 state after the step."""
  batch, step_cfg, state = random_step_setup(*MIXED_PRECISION_MODELS[name])
  results = {}
  for dtype in (jnp.float32, jnp.bfloat16):
    # Not donated (unlike jit_train_step): both dtypes start from the same state.
    step_fn = functools.partial(train.train_step, cfg=step_cfg.replace(compute_dtype=dtype))
    new_state, step_metrics = jax.jit(step_fn)(state, batch)
    assert _float_dtypes(new_state.params) == _float_dtypes(new_state.batch_stats) == {F32}
    results[dtype] = {k: float(step_metrics[k]) for k in ('loss', 'grad_norm')}
  assert results[jnp.bfloat16]['loss'] == pytest.approx(results[jnp.float32]['loss'], rel=2e-2)
  assert results[jnp.bfloat16]['grad_norm'] == pytest.approx(results[jnp.float32]['grad_norm'], rel=1e-1)


def test_train_iterator_state_restores_the_same_data_order():
  cfg = toy_config()
  data = toy_data(cfg)
  it = data.train_iterator()
  uninterrupted = [next(it) for _ in range(6)]
  it = data.train_iterator()
  for _ in range(3):
    next(it)
  state = it.get_state()
  resumed = data.train_iterator()
  resumed.set_state(state)
  for want in uninterrupted[3:]:
    got = next(resumed)
    np.testing.assert_array_equal(got['label'], want['label'])
    np.testing.assert_array_equal(got['inputs'], want['inputs'])
  # A second epoch is a new permutation of the same examples.
  epoch = data.steps_per_epoch
  labels = np.concatenate([b['label'] for b in uninterrupted])
  assert sorted(labels[:epoch * 8]) == sorted(labels[epoch * 8:2 * epoch * 8])


@pytest.fixture(scope='module')
def reference_run(tmp_path_factory):
  """One uninterrupted toy run of 2 epochs x 3 steps, checkpointing every 2 steps."""
  cfg = toy_config(num_epochs=2)
  cfg.checkpoint.every_steps = 2
  workdir = tmp_path_factory.mktemp('reference')
  with pytest.MonkeyPatch.context() as mp:
    mp.setitem(models.MODELS, 'toy', TOY)
    result = train.train_and_evaluate(cfg, workdir, data=toy_data(cfg))
  return cfg, workdir, result


def test_loop_returns_retained_step_memory_before_the_first_evaluation(tmp_path, monkeypatch):
  """The heap's free pages go back to the OS after compiling the train step and again before the first
  evaluation (which compiles the eval step), not before the later ones (the train step would fault its pages
  in again every epoch)."""
  from skeljax import runtime  # pylint: disable=g-import-not-at-top
  events = []
  monkeypatch.setitem(models.MODELS, 'toy', TOY)
  monkeypatch.setattr(runtime, 'release_free_memory', lambda: events.append('release'))
  evaluate = train.evaluate_state
  monkeypatch.setattr(train, 'evaluate_state', lambda *a, **k: events.append('evaluate') or evaluate(*a, **k))
  cfg = toy_config(num_epochs=3)
  train.train_and_evaluate(cfg, tmp_path, data=toy_data(cfg))
  assert events == ['release', 'release', 'evaluate', 'evaluate', 'evaluate']


def test_loop_writes_logs_curves_and_keeps_latest_and_best(reference_run):
  cfg, workdir, result = reference_run
  from skeljax import logging_utils  # pylint: disable=g-import-not-at-top
  records = logging_utils.read_metrics(workdir)
  assert [r['step'] for r in records if r['split'] == 'train'] == list(range(1, 7))
  assert {'loss', 'lr', 'top1', 'grad_norm', 'clips_per_sec'} <= set(records[0])
  val = [r for r in records if r['split'] == 'val']
  assert [r['step'] for r in val] == [3, 6]
  assert {'top1', 'top5', 'mean_class_accuracy'} <= set(val[0])
  epochs = [r for r in records if r['split'] == 'epoch']  # the real-job timing: seconds and clips/s per epoch
  assert [(r['step'], r['epoch'], r['steps']) for r in epochs] == [(3, 1, 3), (6, 2, 3)]
  for r in epochs:
    assert r['seconds'] > 0
    assert r['clips_per_sec'] == pytest.approx(r['steps'] * cfg.global_batch_size / r['seconds'])
  assert (workdir / 'curves.png').stat().st_size > 1000
  assert list((workdir / 'tensorboard').glob('events.out.tfevents.*'))
  steps = sorted(int(p.name) for p in (workdir / 'checkpoints').iterdir() if p.name.isdigit())
  best_top1 = max(r['top1'] for r in val)
  best_steps = {r['step'] for r in val if r['top1'] == best_top1}
  # The latest (6) plus the best by top-1 (any of them on a tie); the metric-less step-2/4 saves were pruned.
  assert 6 in steps and len(steps) <= 2 and set(steps) - {6} <= best_steps and set(steps) & best_steps
  assert int(checkpointing.resolve_step_dir(workdir, prefer='best').name) in best_steps
  meta = checkpointing.load_meta(workdir / 'checkpoints' / '6')
  assert meta['step'] == 6 and meta['epoch'] == 2.0 and meta['config']['model']['name'] == 'toy'
  assert result['step'] == 6 and not result['preempted'] and result['top1'] == val[-1]['top1']


def test_same_seed_is_bit_identical_and_sigterm_resume_matches(reference_run, tmp_path):
  cfg, ref_dir, ref = reference_run
  again = train.train_and_evaluate(cfg, tmp_path / 'again', data=toy_data(cfg))
  _assert_trees_equal(_params(ref_dir), _params(tmp_path / 'again'))
  assert again['top1'] == ref['top1']

  # SIGTERM arrives while the 2nd batch is being loaded: the loop saves after that step and stops.
  data = toy_data(cfg)
  pipeline, fed = data.train_pipeline, {'n': 0}

  def pipeline_then_signal(results, rng):
    fed['n'] += 1
    if fed['n'] == cfg.global_batch_size + 1:
      threading.Timer(0.0, os.kill, (os.getpid(), signal.SIGTERM)).start()
    return pipeline(results, rng)

  data.train_pipeline = pipeline_then_signal
  stopped = train.train_and_evaluate(cfg, tmp_path / 'run', data=data)
  assert stopped['preempted'] and 1 <= stopped['step'] < 6
  latest = checkpointing.resolve_step_dir(tmp_path / 'run', prefer='latest')
  assert checkpointing.load_meta(latest)['step'] == stopped['step']
  resumed = train.train_and_evaluate(cfg, tmp_path / 'run', data=toy_data(cfg))
  assert resumed['step'] == 6 and not resumed['preempted'] and resumed['top1'] == ref['top1']
  _assert_trees_equal(_params(ref_dir), _params(tmp_path / 'run'))


def test_init_from_loads_matching_weights_and_skips_a_different_head(reference_run):
  pretrained = _params(reference_run[1])
  mesh = sharding.make_mesh()
  fine = toy_config(model=dict(name='toy', num_classes=5))
  step_cfg = train.make_step_config(fine, 1)
  state = train.create_train_state(fine.model, step_cfg.tx, 1, mesh)
  state = train.apply_model_dict(state, pretrained, strict=False, source='pre')
  got = nnx.merge_state(state.params, state.batch_stats).filter(nnx.Not(nnx.RngState)).to_pure_dict()
  np.testing.assert_array_equal(got['proj']['kernel'], pretrained['proj']['kernel'])
  np.testing.assert_array_equal(got['bn']['mean'], pretrained['bn']['mean'])
  assert got['fc']['kernel'].shape == (16, 5)  # 13-class head skipped, kept at init
  with pytest.raises(ValueError, match='shape of fc/kernel'):
    train.apply_model_dict(state, pretrained, strict=True, source='pre')


def test_device_heatmap_step_matches_host_rendered_volume():
  """PoseC3D path: keypoints rendered inside the step equal the numpy GeneratePoseTarget volume."""
  from skeljax.data.heatmap import GeneratePoseTarget  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  n, m, t, v = 2, 1, 4, 17
  kp = rng.uniform(4, 28, (n, 1, m, t, v, 2)).astype(np.float32)
  score = rng.uniform(0.2, 1.0, (n, 1, m, t, v)).astype(np.float32)
  hm = dict(sigma=0.6, use_score=True, with_kp=True, with_limb=False, height=32, width=32)
  cfg = toy_config(model=dict(name='toy', num_classes=4, in_channels=17), device_heatmap=hm)
  mesh = sharding.make_mesh()
  step_cfg = train.make_step_config(cfg, 1, eval_mode=True)
  state = train.create_train_state(cfg.model, step_cfg.tx, 0, mesh)
  host_op = GeneratePoseTarget(sigma=0.6, use_score=True, with_kp=True, with_limb=False)
  host = np.stack([host_op({'keypoint': kp[i, 0], 'keypoint_score': score[i, 0], 'img_shape': (32, 32)})['imgs']
                   for i in range(n)])[:, None]
  p_eval = train.jit_eval_step(step_cfg, mesh, state)
  on_device = p_eval(state, sharding.shard_batch({'keypoint': kp, 'keypoint_score': score}, mesh))
  on_host = p_eval(state, sharding.shard_batch({'inputs': host}, mesh))
  np.testing.assert_allclose(np.asarray(on_device), np.asarray(on_host), rtol=1e-5, atol=1e-6)


def test_epoch_without_a_full_batch_raises():
  with pytest.raises(ValueError, match='no full batch'):
    train.epochs_to_steps(3, 1, 8)


def test_evaluate_on_the_final_checkpoint_reproduces_the_loop_metrics(reference_run):
  from skeljax import evaluate  # pylint: disable=g-import-not-at-top
  cfg, workdir, result = reference_run
  data = toy_data(cfg)
  out = evaluate.evaluate(cfg, workdir, checkpoint=6, data=data.val)
  assert out['checkpoint'].endswith('checkpoints/6') and out['num_samples'] == 10
  for key in ('top1', 'top5', 'mean_class_accuracy'):
    assert out[key] == result[key], key
