"""Recomputation in the backward pass: ``with_cp`` (whole blocks), and the activations every step recomputes
((A)AGCN units with few input channels, PoseC3D's downsample convs). Each gives the same new state (parameters,
BatchNorm statistics, dropout masks) or gradients as keeping the activations, and plans less temporary memory."""

from __future__ import annotations

import functools
import importlib
import inspect

import jax
import ml_collections
import numpy as np
import pytest
from flax import nnx

from benchmarks import model_benchmark
from skeljax import models, train
from test_train import TINY_POSEC3D, random_step_setup, toy_config

CASES = {
    # Dropout on: the recomputation must draw the masks the forward pass drew, or the gradients differ.
    # Five blocks of AAGCN's three kinds (first, identity, strided conv residual) at full width (measured 0.55x;
    # four blocks keep too few activations for the plan to show it: 0.73x).
    'aagcn': (dict(name='aagcn', num_classes=5, num_stages=5, inflate_stages=(3,), down_stages=(3,), tcn_dropout=0.5,
                   with_cp=False), (2, 1, 2, 32, 25, 3)),
    # Six bottlenecks at the stem's resolution, so that their activations, not the stem's, set the plan.
    'posec3d': (dict(name='posec3d', num_classes=5,
                     backbone=dict(TINY_POSEC3D, stage_blocks=(6,), spatial_strides=(1,), temporal_strides=(1,),
                                   base_channels=16, with_pool1=False, with_cp=False)),
                (2, 1, 8, 16, 16, 17)),
}


def _with_cp(model_cfg: dict) -> ml_collections.ConfigDict:
  model_cfg = ml_collections.ConfigDict(model_cfg)
  model_benchmark.enable_recompute(model_cfg)
  return model_cfg


def _numbers(leaf) -> np.ndarray:
  """A state leaf as numbers (RNG keys as their key data)."""
  return np.asarray(jax.random.key_data(leaf) if jax.dtypes.issubdtype(leaf.dtype, jax.dtypes.prng_key) else leaf)


def _one_step(model_cfg: dict, shape: tuple):
  batch, step_cfg, state = random_step_setup(model_cfg, shape)
  compiled = jax.jit(functools.partial(train.train_step, cfg=step_cfg)).lower(state, batch).compile()
  new_state, metrics = compiled(state, batch)
  return compiled.memory_analysis().temp_size_in_bytes, new_state, metrics


@pytest.mark.parametrize('name', list(CASES))
def test_with_cp_step_gives_the_same_state_with_less_temporary_memory(name):
  model_cfg, shape = CASES[name]
  plain_temp, plain, plain_metrics = _one_step(model_cfg, shape)
  cp_temp, recomputed, cp_metrics = _one_step(_with_cp(model_cfg), shape)
  assert float(cp_metrics['loss']) == pytest.approx(float(plain_metrics['loss']), rel=1e-6)
  assert float(cp_metrics['grad_norm']) == pytest.approx(float(plain_metrics['grad_norm']), rel=1e-5)
  # Parameters after an SGD step (so the gradients), running statistics, RNG counters.
  for part in ('params', 'batch_stats'):
    leaves_plain = jax.tree.leaves(nnx.to_pure_dict(getattr(plain, part)))
    leaves_cp = jax.tree.leaves(nnx.to_pure_dict(getattr(recomputed, part)))
    assert len(leaves_plain) == len(leaves_cp)
    for a, b in zip(leaves_plain, leaves_cp):
      np.testing.assert_allclose(_numbers(b), _numbers(a), rtol=1e-5, atol=1e-6)
  # Recomputed blocks keep one block's activations at a time in the backward pass. (jax.checkpoint's plan on
  # XLA:CPU is larger than the plain one: skeljax/models/recompute.py.)
  assert cp_temp < 0.7 * plain_temp, (cp_temp, plain_temp)


def test_benchmark_with_cp_sets_the_option_or_refuses_a_model_without_it():
  gcn = toy_config(model=dict(name='aagcn', num_classes=5, with_cp=False)).model
  model_benchmark.enable_recompute(gcn)
  assert gcn.with_cp is True
  posec3d = toy_config(model=dict(name='posec3d', num_classes=5, backbone=dict(TINY_POSEC3D, with_cp=False))).model
  model_benchmark.enable_recompute(posec3d)
  assert posec3d.backbone.with_cp is True
  with pytest.raises(ValueError, match="'msg3d' has no with_cp option"):
    model_benchmark.enable_recompute(toy_config(model=dict(name='msg3d', num_classes=5)).model)


@pytest.mark.parametrize('config', ['stgcn_ntu60', 'stgcnpp_ntu60', 'agcn_ntu60:xsub,joint,3d', 'ctrgcn_ntu60',
                                    'dgstgcn_ntu60', 'stgcn_nwucla', 'agcn_nwucla', 'posec3d_ntu60'])
def test_zoo_configs_expose_with_cp_off(config):
  """``--config.model.with_cp=True`` (``model.backbone`` for PoseC3D) needs the key in the config; off by default,
  and the recognizer takes it."""
  module, _, variant = config.partition(':')
  model = importlib.import_module(f'configs.{module}').get_config(variant or None).model
  target = model.backbone if model.name == 'posec3d' else model
  assert target.with_cp is False
  if model.name != 'posec3d':
    assert 'with_cp' in inspect.signature(models.get_model_cls(model.name).__init__).parameters


# (c_in, c_out, the plan's largest size against keeping): with c_in == c_out conv_d goes first and its K * c_out
# outputs are recomputed (measured 0.72-0.73x); with c_in < c_out the input is aggregated first and the smaller
# K * c_in aggregate is (0.89x at 16 -> 64).
@pytest.mark.parametrize('c_in, c_out, max_ratio', [(64, 64, 0.8), (16, 64, 0.95)])
@pytest.mark.parametrize('unit_name', ['aagcn', 'agcn'])
def test_graph_unit_recomputes_conv_d_and_attention_in_backward(unit_name, c_in, c_out, max_ratio, monkeypatch):
  """(A)AGCN units with few input channels recompute conv_d's outputs (or the aggregated input), theta / phi
  and the broadcast graph when the backward pass reaches them: same loss and gradients as keeping them, and a
  smaller plan (without the tie to the cotangent XLA merges the recomputation into the forward pass)."""
  from skeljax.models.gcn.units import agcn_unit
  from skeljax.models.gcn.units.aagcn_unit import AAGCNUnit
  shape = (2, 16, 25, c_in)
  adjacency = np.random.default_rng(0).random((3, 25, 25)).astype(np.float32)
  unit_cls = AAGCNUnit if unit_name == 'aagcn' else agcn_unit.AGCNUnit
  unit = unit_cls(c_in, c_out, adjacency, rngs=nnx.Rngs(0))
  if unit_name == 'aagcn':
    unit.alpha[...] = np.full((1,), 0.5, np.float32)  # the attention term contributes (it starts at 0)
  graphdef, params, rest = nnx.split(unit, nnx.Param, ...)
  x = jax.random.normal(jax.random.key(1), shape)
  weights = jax.random.normal(jax.random.key(2), shape[:-1] + (c_out,))

  def loss(params, x):
    return (nnx.merge(graphdef, params, rest, copy=True)(x) * weights).sum()

  results = {}
  for mode, max_in in (('kept', 0), ('recomputed', c_in)):
    monkeypatch.setattr(agcn_unit, 'RECOMPUTE_MAX_IN_CHANNELS', max_in)
    compiled = jax.jit(jax.value_and_grad(loss, argnums=(0, 1))).lower(params, x).compile()
    results[mode] = compiled.memory_analysis().temp_size_in_bytes, compiled(params, x)
  (kept_temp, (kept_loss, kept_grads)), (temp, (value, grads)) = results['kept'], results['recomputed']
  np.testing.assert_allclose(value, kept_loss, rtol=1e-6)
  for a, b in zip(jax.tree.leaves(kept_grads), jax.tree.leaves(grads), strict=True):
    np.testing.assert_allclose(b, a, rtol=1e-4, atol=1e-6 * float(np.abs(a).max()))
  assert temp < max_ratio * kept_temp, (temp, kept_temp)  # 1.0x with the tie removed


def test_posec3d_downsample_recomputed_in_backward(monkeypatch):
  """The stages' widening 1x1x1 downsample convs rerun in the backward pass: the same new state as keeping
  their BN inputs, and a smaller plan."""
  from skeljax.models import slowonly
  # The zoo's SlowOnly-R50 widths with one block a stage (each stage's first block has the downsample) on a
  # small volume.
  model_cfg, shape = dict(name='posec3d', num_classes=5, backbone=dict(stage_blocks=(1, 1, 1))), (1, 1, 8, 32, 32, 17)
  temp, recomputed, metrics = _one_step(model_cfg, shape)
  monkeypatch.setattr(slowonly, 'call_recomputed', lambda module, x: module(x))  # the downsample kept
  kept_temp, kept, kept_metrics = _one_step(model_cfg, shape)
  assert float(metrics['loss']) == pytest.approx(float(kept_metrics['loss']), rel=1e-6)
  assert float(metrics['grad_norm']) == pytest.approx(float(kept_metrics['grad_norm']), rel=1e-5)
  for part in ('params', 'batch_stats'):
    for a, b in zip(jax.tree.leaves(nnx.to_pure_dict(getattr(kept, part))),
                    jax.tree.leaves(nnx.to_pure_dict(getattr(recomputed, part))), strict=True):
      np.testing.assert_allclose(_numbers(b), _numbers(a), rtol=1e-5, atol=1e-6)
  assert temp < 0.96 * kept_temp, (temp, kept_temp)  # measured 0.87x (stages of 4, 6, 3 blocks: 0.92x)

