"""Optimiser and schedules against PyTorch SGD's documented recurrence and MMEngine's schedule formulas."""

import math

import jax
import numpy as np
import optax
import pytest

from skeljax import optim


def _torch_sgd_steps(params, grads_seq, lrs, momentum, weight_decay, nesterov, max_norm):
  """torch.optim.SGD (dampening 0) after torch.nn.utils.clip_grad_norm_, written out in float64."""
  params = {k: v.astype(np.float64) for k, v in params.items()}
  bufs = {}
  for grads, lr in zip(grads_seq, lrs):
    if max_norm is not None:
      total = math.sqrt(sum(float(np.sum(g.astype(np.float64) ** 2)) for g in grads.values()))
      coef = min(max_norm / (total + 1e-6), 1.0)
      grads = {k: g * coef for k, g in grads.items()}
    for k in params:
      d_p = grads[k] + weight_decay * params[k]
      bufs[k] = d_p.copy() if k not in bufs else momentum * bufs[k] + d_p
      d_p = d_p + momentum * bufs[k] if nesterov else bufs[k]
      params[k] = params[k] - lr * d_p
  return params


@pytest.mark.parametrize('clip', [None, 1.0])
def test_sgd_matches_pytorch_recurrence(clip):
  rng = np.random.default_rng(0)
  params = {'w': rng.normal(size=(4, 3)).astype(np.float32), 'bn_scale': np.ones(3, np.float32)}
  grads_seq = [{k: rng.normal(size=v.shape).astype(np.float32) for k, v in params.items()} for _ in range(5)]
  cfg = {'name': 'sgd', 'lr': 0.1, 'momentum': 0.9, 'nesterov': True, 'weight_decay': 5e-4}
  sched = {'name': 'cosine', 'eta_min': 0.0}
  lr_fn = optim.create_learning_rate_fn(sched, cfg['lr'], steps_per_epoch=5, num_epochs=2)
  tx = optim.create_optimizer(cfg, lr_fn, grad_clip_norm=clip)
  state = tx.init(params)
  p = {k: np.asarray(v) for k, v in params.items()}
  for g in grads_seq:
    updates, state = tx.update(g, state, p)
    p = optax.apply_updates(p, updates)
  # MMEngine CosineAnnealingLR per iteration: eta_min + (base - eta_min) * (1 + cos(pi * t / T)) / 2.
  lrs = [0.1 * (1 + math.cos(math.pi * t / 10)) / 2 for t in range(5)]
  expected = _torch_sgd_steps(params, grads_seq, lrs, 0.9, 5e-4, True, clip)
  for k in params:
    np.testing.assert_allclose(np.asarray(p[k]), expected[k], rtol=1e-5, atol=1e-6)


def test_sgd_without_nesterov_or_decay_matches_pytorch():
  rng = np.random.default_rng(1)
  params = {'w': rng.normal(size=(5,)).astype(np.float32)}
  grads_seq = [{'w': rng.normal(size=(5,)).astype(np.float32)} for _ in range(4)]
  cfg = {'name': 'sgd', 'lr': 0.05, 'momentum': 0.9, 'nesterov': False, 'weight_decay': 0.0}
  tx = optim.create_optimizer(cfg, optim.create_learning_rate_fn({'name': 'constant'}, 0.05, 4, 1))
  state, p = tx.init(params), dict(params)
  for g in grads_seq:
    updates, state = tx.update(g, state, p)
    p = optax.apply_updates(p, updates)
  expected = _torch_sgd_steps(params, grads_seq, [0.05] * 4, 0.9, 0.0, False, None)
  np.testing.assert_allclose(np.asarray(p['w']), expected['w'], rtol=1e-6)


def test_step_schedule_milestones_in_epochs():
  lr_fn = optim.create_learning_rate_fn({'name': 'step', 'milestones': [2, 3], 'gamma': 0.1}, 0.01, 10, 4)
  # Epoch e (steps 10e .. 10e+9) has lr 0.01 * 0.1^(number of milestones <= e).
  for step, expected in [(0, 0.01), (19, 0.01), (20, 0.001), (29, 0.001), (30, 0.0001), (39, 0.0001)]:
    assert float(lr_fn(step)) == pytest.approx(expected, rel=1e-6)


def test_linear_warmup_then_cosine():
  sched = {'name': 'cosine', 'eta_min': 0.001, 'warmup_epochs': 1, 'warmup_start_factor': 0.1}
  lr_fn = optim.create_learning_rate_fn(sched, 0.1, steps_per_epoch=4, num_epochs=3)
  # MMEngine LinearLR: factor start + (1 - start) * t / warmup_iters; then cosine over the remaining 8 steps.
  for t in range(4):
    assert float(lr_fn(t)) == pytest.approx(0.1 * (0.1 + 0.9 * t / 4), rel=1e-6)
  for t in range(4, 12):
    expected = 0.001 + (0.1 - 0.001) * (1 + math.cos(math.pi * (t - 4) / 8)) / 2
    assert float(lr_fn(t)) == pytest.approx(expected, rel=1e-5)


def test_ctrgcn_epoch_warmup_then_step():
  """NW-UCLA recipe: CTR-GCN's per-epoch warm-up base * (epoch + 1) / 5, then x0.1 at epoch 50."""
  sched = {'name': 'step', 'milestones': [50], 'gamma': 0.1, 'warmup_epochs': 5, 'warmup_style': 'epoch'}
  lr_fn = optim.create_learning_rate_fn(sched, 0.1, steps_per_epoch=3, num_epochs=65)
  for epoch, expected in [(0, 0.02), (1, 0.04), (2, 0.06), (3, 0.08), (4, 0.1), (5, 0.1), (49, 0.1), (50, 0.01),
                          (64, 0.01)]:
    for step in range(3 * epoch, 3 * epoch + 3):  # constant within an epoch
      assert float(lr_fn(step)) == pytest.approx(expected, rel=1e-6), (epoch, step)
  with pytest.raises(ValueError, match='warmup_style'):
    optim.create_learning_rate_fn(dict(sched, warmup_style='exp'), 0.1, 3, 65)


def test_unknown_names_raise():
  with pytest.raises(ValueError, match='unknown schedule'):
    optim.create_learning_rate_fn({'name': 'poly'}, 0.1, 1, 1)
  with pytest.raises(ValueError, match='unknown optimizer'):
    optim.create_optimizer({'name': 'adam'}, optax.constant_schedule(0.1))


def test_optimizer_is_jittable():
  tx = optim.create_optimizer({'name': 'sgd', 'momentum': 0.9, 'nesterov': True, 'weight_decay': 1e-4},
                              optax.constant_schedule(0.1), grad_clip_norm=40.0)
  params = {'w': np.ones(3, np.float32)}
  updates, _ = jax.jit(tx.update)({'w': np.ones(3, np.float32)}, tx.init(params), params)
  np.testing.assert_allclose(np.asarray(updates['w']), -0.1 * (1 + 1e-4) * 1.9, rtol=1e-6)
