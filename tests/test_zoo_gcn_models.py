"""ST-GCN++ and CTR-GCN: their options, units and checkpoint maps on small shapes (parity: test_stgcnpp_ctrgcn_parity).

The units are checked against a NumPy transcription of the reference forward passes (MMAction2 ``unit_gcn``,
``mstcn``, CTR-GCN ``MSTCN``), written in PyTorch's ``[N, C, T, V]`` layout from the reference code, on the
module's own (randomised) parameters, for the options the fixtures do not exercise.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from gcn_reference_ops import bn, conv, max_pool, randomise, relu
from skeljax.checkpoint.gcn_import import mmaction_key_map
from skeljax.models import create_model
from skeljax.models.gcn.units.ctrgcn_tcn import CTRGCNTemporalConv
from skeljax.models.gcn.units.graph_conv import GraphConv
from skeljax.models.gcn.units.ms_tcn import MultiScaleTemporalConv


# ------------------------------------- NumPy reference units, [N, C, T, V] ---------------------------------------


def unit_gcn_reference(x, unit: GraphConv, adaptive, conv_pos, with_res):
  """MMAction2 ``unit_gcn.forward`` (``mmaction/models/utils/gcn_utils.py``) in NumPy."""
  a = np.asarray(unit.A[...])
  if adaptive == 'offset':
    a = a + np.asarray(unit.PA[...])
  elif adaptive == 'importance':
    a = a * np.asarray(unit.PA[...])
  n, _, t, v = x.shape
  res = 0
  if with_res:
    res = bn(conv(x, unit.down.conv), unit.down.bn) if unit.down is not None else x
  if conv_pos == 'pre':
    y = conv(x, unit.conv).reshape(n, a.shape[0], -1, t, v)
    y = np.einsum('nkctv,kvw->nctw', y, a)
  else:
    y = np.einsum('nctv,kvw->nkctw', x, a).reshape(n, -1, t, v)
    y = conv(y, unit.conv)
  return relu(bn(y, unit.bn) + res)


def mstcn_reference(x, unit: MultiScaleTemporalConv, stride):
  """MMAction2 ``mstcn.forward`` in NumPy (dropout 0)."""
  outs = []
  for entry, branch in zip(unit.ms_cfg, unit.branches):
    if entry == '1x1':
      outs.append(conv(x, branch, stride=stride))
      continue
    y = relu(bn(conv(x, branch.conv_in), branch.bn))
    outs.append(max_pool(y, stride) if entry[0] == 'max' else conv(y, branch.conv_t, stride, entry[1]))
  y = np.concatenate(outs, axis=1)
  y = conv(relu(bn(y, unit.transform_bn)), unit.transform_conv)
  return bn(y, unit.bn)


def ctrgcn_mstcn_reference(x, unit: CTRGCNTemporalConv, dilations, stride):
  """CTR-GCN ``MSTCN.forward`` (projects/ctrgcn/models/ctrgcn_utils.py, residual=False) in NumPy."""
  outs = []
  for d, branch in zip(dilations, unit.branches):
    y = relu(bn(conv(x, branch.conv_in), branch.bn))
    outs.append(bn(conv(y, branch.tcn.conv, stride, d), branch.tcn.bn))
  pool, point = unit.branches[-2], unit.branches[-1]
  outs.append(bn(max_pool(relu(bn(conv(x, pool.conv_in), pool.bn)), stride), pool.bn_out))
  outs.append(bn(conv(x, point.conv_in, stride=stride), point.bn))
  return relu(np.concatenate(outs, axis=1))


def rngs(seed: int = 0) -> nnx.Rngs:
  # Initial values are replaced (randomise, eval_shape) or irrelevant here; rbg keys build ~2x faster on CPU.
  return nnx.Rngs(params=jax.random.key(seed, impl='rbg'), dropout=seed)


def run_eval(module, x_nctv):
  """The module in eval mode on an [N, C, T, V] array, result back in [N, C, T, V]."""
  module.eval()
  y = nnx.jit(lambda m, x: m(x))(module, jnp.asarray(np.transpose(x_nctv, (0, 2, 3, 1)), jnp.float32))
  return np.transpose(np.asarray(y), (0, 3, 1, 2))


# ------------------------------------------------ the units ------------------------------------------------------


# Every value of each option at least once (ST-GCN++'s 'init' + 'pre' + residual conv is also in the parity test).
@pytest.mark.parametrize('adaptive, conv_pos, with_res, c_in', [
    (None, 'post', False, 4), ('init', 'pre', True, 4), ('offset', 'post', True, 6), ('importance', 'pre', True, 6),
])
def test_graph_conv_options_match_mmaction_unit_gcn(adaptive, conv_pos, with_res, c_in):
  rng = np.random.default_rng(0)
  adjacency = rng.uniform(0, 1, (3, 5, 5)).astype(np.float32)
  unit = GraphConv(c_in, 6, adjacency, adaptive=adaptive, conv_pos=conv_pos, with_res=with_res, rngs=rngs())
  assert (unit.down is not None) == (with_res and c_in != 6)
  assert isinstance(unit.A, nnx.Param) == (adaptive == 'init')  # only 'init' learns the graph itself
  randomise(unit, 1)
  x = rng.normal(size=(2, c_in, 7, 5))
  np.testing.assert_allclose(run_eval(unit, x), unit_gcn_reference(x, unit, adaptive, conv_pos, with_res),
                             rtol=1e-4, atol=1e-4)


def test_mstcn_with_custom_ms_cfg_matches_mmaction_mstcn():
  """A non-default ``ms_cfg`` (the default one, strides 1 and 2, is in the parity test), JSON-style lists."""
  stride = 2
  unit = MultiScaleTemporalConv(8, 13, stride=stride, ms_cfg=[[3, 1], [5, 2], ['max', 3], '1x1'], rngs=rngs())
  widths = [b.kernel.shape[-1] if hasattr(b, 'kernel') else b.bn.num_features for b in unit.branches]
  assert widths[0] == 13 - (len(widths) - 1) * (13 // len(widths)) and sum(widths) == 13  # first takes the rest
  randomise(unit, 2)
  x = np.random.default_rng(3).normal(size=(2, 8, 9, 4))
  np.testing.assert_allclose(run_eval(unit, x), mstcn_reference(x, unit, stride), rtol=1e-4, atol=1e-4)


def test_ctrgcn_temporal_unit_with_custom_kernels_matches_reference_mstcn():
  """Per-branch kernels and other dilations (the default 5 / (1, 2) is in the parity test)."""
  kernel_size, dilations, stride = [3, 5], (1, 3), 2
  unit = CTRGCNTemporalConv(8, 14, kernel_size=kernel_size, dilations=dilations, stride=stride, rngs=rngs())
  mid = 14 // (len(dilations) + 2)
  assert unit.branches[-1].bn.num_features == 14 - mid * (len(dilations) + 1)  # the 1x1 branch takes the rest
  randomise(unit, 4)
  x = np.random.default_rng(5).normal(size=(2, 8, 11, 3))
  np.testing.assert_allclose(run_eval(unit, x), ctrgcn_mstcn_reference(x, unit, dilations, stride),
                             rtol=1e-4, atol=1e-4)


# ------------------------------------------- models and key maps -------------------------------------------------

# Three blocks (no residual, identity, strided conv + BN): every block kind, few distinct shapes to build.
SMALL = dict(num_classes=5, base_channels=8, num_stages=3, inflate_stages=(3,), down_stages=(3,))


# The default ST-GCN++ / CTR-GCN maps load the reference checkpoints in the parity tests (fast tier); these are
# the other options' maps.
@pytest.mark.slow
@pytest.mark.parametrize('cfg, edition', [
    ({'name': 'stgcn', 'gcn_adaptive': 'offset', 'gcn_conv_pos': 'post', 'gcn_with_res': True, 'tcn_type': 'mstcn',
      'tcn_ms_cfg': [[3, 1], ['max', 3], '1x1']}, 'pyskl'),
    ({'name': 'ctrgcn', 'kernel_size': [3, 5, 7], 'dilations': [1, 2, 3]}, '1.x'),
])
def test_key_map_fills_every_param_and_batch_stat_exactly_once(cfg, edition):
  model = create_model({**cfg, **SMALL}, rngs())  # concrete: the fixed graphs become checks
  key_map = mmaction_key_map(model, edition)
  targets = [path for path, _ in key_map.params.values()]
  assert len(targets) == len(set(targets))
  state_paths = {p for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)))}
  assert set(targets) == state_paths
  if cfg['name'] == 'ctrgcn':
    assert 'backbone.A' in key_map.checks and 'backbone.net.0.gcn1.A' in key_map.params
  else:  # a learned graph ('init') is a weight to load; a fixed one a buffer to verify
    learned = model.backbone.blocks[0].gcn.adaptive == 'init'
    assert ('backbone.gcn.0.gcn.A' in key_map.params) == learned != ('backbone.gcn.0.gcn.A' in key_map.checks)


def test_stgcnpp_alias_is_stgcn_with_mmaction_stgcnpp_options():
  alias = nnx.eval_shape(lambda: create_model({'name': 'stgcnpp', **SMALL}, nnx.Rngs(0)))
  explicit = nnx.eval_shape(lambda: create_model(
      {'name': 'stgcn', **SMALL, 'graph_cfg': {'layout': 'nturgb+d', 'strategy': 'spatial'},
       'gcn_adaptive': 'init', 'gcn_with_res': True, 'tcn_type': 'mstcn'}, nnx.Rngs(0)))
  shapes = lambda m: {p: v.shape for p, v in nnx.to_flat_state(nnx.state(m))}
  assert shapes(alias) == shapes(explicit)
  unit = alias.backbone.blocks[2].gcn
  assert unit.adaptive == 'init' and unit.PA is None and unit.down is not None  # 8 -> 16: conv + BN residual


@pytest.mark.parametrize('name', ['stgcnpp', 'ctrgcn', 'aagcn'])
def test_stage_arguments_and_bfloat16_step(name):
  """Stage arguments shape the network; a bf16 train step (parameters and input cast) stays in bf16: the
  learned graphs (float32 masters) must not promote activations back (design.md's dtype rule)."""
  def run():
    model = create_model({'name': name, **SMALL}, nnx.Rngs(0))
    model.eval()
    nnx.update(model, jax.tree.map(lambda p: p.astype(jnp.bfloat16), nnx.state(model, nnx.Param)))
    x = jnp.zeros((1, 2, 12, 25, 3), jnp.bfloat16)
    return model, model.backbone(x), model(x[:, None])

  model, features, scores = nnx.eval_shape(run)
  assert [b.residual_kind for b in model.backbone.blocks] == ['none', 'identity', 'conv']
  assert features.shape == (2, 6, 25, 16)  # channels x2 and time /2 at stage 3
  assert features.dtype == jnp.bfloat16 and scores.dtype == jnp.float32 and scores.shape == (1, 1, 5)


@pytest.mark.parametrize('cfg, match', [
    ({'name': 'stgcn', 'gcn_adaptive': 'learned'}, 'gcn_adaptive must be one of'),
    ({'name': 'stgcn', 'gcn_conv_pos': 'mid'}, 'gcn_conv_pos must be one of'),
    ({'name': 'stgcn', 'tcn_type': 'tcn'}, 'tcn_type must be one of'),
    ({'name': 'stgcn', 'tcn_ms_cfg': [[3, 1]]}, "configures tcn_type='mstcn'"),
    ({'name': 'stgcn', 'edition': '0.x', 'gcn_adaptive': 'init'}, '0.x STGCN has only edge importance'),
    ({'name': 'stgcn', 'edge_importance': False, 'gcn_adaptive': 'offset'}, 'edge_importance=False means'),
    ({'name': 'stgcn', 'in_channels': 64}, 'drops its first block'),
    ({'name': 'aagcn', 'in_channels': 16, 'base_channels': 16}, 'drops its first block'),
    ({'name': 'stgcnpp', 'tcn_ms_cfg': [[3, 1], ['max', 5]]}, r"must be \('max', 3\)"),
    ({'name': 'stgcnpp', 'tcn_ms_cfg': [[4, 1], '1x1']}, 'must be odd'),
    ({'name': 'stgcnpp', 'tcn_ms_cfg': ['3x3']}, 'ms_cfg entries are'),
    ({'name': 'ctrgcn', 'edition': '0.x'}, "edition '1.x'"),
    ({'name': 'ctrgcn', 'kernel_size': [3, 5, 7]}, 'one kernel per dilation'),
    ({'name': 'ctrgcn', 'kernel_size': 4}, 'must be odd'),
])
def test_bad_options_raise_clear_errors(cfg, match):
  with pytest.raises(ValueError, match=match):
    nnx.eval_shape(lambda: create_model({**cfg, 'num_classes': 3}, nnx.Rngs(0)))


@pytest.mark.slow
@pytest.mark.parametrize('name, fixture', [('stgcnpp', 'stgcnpp'), ('ctrgcn', 'ctrgcn')])
def test_initial_values_follow_the_reference_init(parity_zoo, name, fixture):
  """Fresh-model statistics against the reference's ``init_weights()`` state (fixture ``init_weights_stats``).

  Constant tensors (BN weights 1, CTR-GCN's unit BN 1e-6, zero biases, alpha 0) and the graph ``A`` must be
  equal; random ones must have the reference's spread (std within sampling error), which tells PyTorch's
  default init (std 1 / sqrt(3 fan_in)) from Kaiming fan-out (sqrt(2 / fan_out)).
  """
  reference = parity_zoo.json(f'{fixture}_stats.json')['init_weights_stats']
  model = create_model({'name': name, 'num_classes': 60}, nnx.Rngs(0))
  key_map = mmaction_key_map(model, '1.x')
  flat = dict(nnx.to_flat_state(nnx.state(model)))
  checked = 0
  for key, (path, transform) in key_map.params.items():
    ref = reference[key]
    ours = np.asarray(flat[path][...], np.float64)
    assert list(transform(np.zeros(ref['shape'])).shape) == list(ours.shape), key
    if ref['std'] == 0 or key.endswith('.A'):
      # The fixture's std is PyTorch's (unbiased) Tensor.std().
      std = ours.std(ddof=1) if ours.size > 1 else 0.0
      for stat, value in (('mean', ours.mean()), ('std', std), ('min', ours.min()), ('max', ours.max())):
        assert value == pytest.approx(ref[stat], rel=1e-5, abs=1e-9), f'{key} {stat}'
    else:
      tolerance = max(0.1, 5 / np.sqrt(2 * ours.size))
      assert ours.std(ddof=1) == pytest.approx(ref['std'], rel=tolerance), f'{key} std'
    checked += 1
  assert checked == len(key_map.params)
