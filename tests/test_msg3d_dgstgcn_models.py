"""MS-G3D and DG-STGCN units: init against the references' own init statistics, window unfolding against
``nn.Unfold``'s definition, shapes, bfloat16 compute, and clear errors for configurations they do not support.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx
from jax.extend import core as jax_core

from gcn_reference_ops import bn, conv, randomise, relu
from skeljax.checkpoint.mmaction import KeyMap
from skeljax.models import create_model
from skeljax.models.gcn import dgstgcn, graph, msg3d
from skeljax.models.gcn.units.dg_gcn import DGGraphConv
from skeljax.models.gcn.units.dg_tcn import DGTemporalConv, parse_ms_cfg
from skeljax.models.gcn.units.msg3d_g3d import G3DWindowPathway, unfold_windows
from skeljax.models.gcn.units.msg3d_gcn import MultiScaleGraphConv
from skeljax.models.gcn.units.msg3d_tcn import MSG3DTemporalConv

SLIM_MSG3D = {'name': 'msg3d', 'num_classes': 5, 'base_channels': 12, 'num_gcn_scales': 3, 'num_g3d_scales': 2}
SLIM_DGSTGCN = {'name': 'dgstgcn', 'num_classes': 5, 'base_channels': 16, 'num_stages': 2, 'inflate_stages': (2,),
                'down_stages': (2,)}


def _units(family: str) -> list[tuple[str, nnx.Module, callable]]:
  """(checkpoint prefix, freshly initialised unit, key-map filler) for units of each reference network."""
  rngs = nnx.Rngs(0)
  if family == 'msg3d':
    a = graph.build_adjacency('nturgb+d', 'binary_adj')[0]
    return [('backbone.tcn1', MSG3DTemporalConv(96, 96, rngs=rngs), msg3d._add_temporal_unit),
            ('backbone.sgcn2.1', MSG3DTemporalConv(96, 192, stride=2, rngs=rngs), msg3d._add_temporal_unit),
            ('backbone.sgcn1.0', MultiScaleGraphConv(13, 3, 96, a, rngs=rngs), msg3d._add_graph_conv),
            ('backbone.gcn3d2.gcn3d.1', G3DWindowPathway(96, 192, a, 6, 5, 2, rngs=rngs), _add_g3d_pathway)]
  a = dgstgcn.initial_graph(None, rngs.params())
  return [('backbone.gcn.4.gcn', DGGraphConv(64, 128, a, ratio=0.125, rngs=rngs), dgstgcn._add_gcn),
          ('backbone.gcn.4.tcn', DGTemporalConv(128, 128, stride=2, rngs=rngs), dgstgcn._add_tcn)]


def _add_g3d_pathway(key_map: KeyMap, prefix: str, path: tuple, pathway: G3DWindowPathway) -> None:
  msg3d._add_graph_conv(key_map, f'{prefix}.gcn3d.1', path + ('gcn',), pathway.gcn)
  key_map.add(f'{prefix}.out_conv.weight', path + ('out_conv', 'kernel'))
  key_map.add(f'{prefix}.out_conv.bias', path + ('out_conv', 'bias'))
  key_map.add_batchnorm(f'{prefix}.out_bn', path + ('out_bn',))


@pytest.mark.slow  # ~7 s per family: each fresh tensor shape compiles its own sampling program
@pytest.mark.parametrize('family', ['msg3d', 'dgstgcn'])
def test_unit_init_matches_reference_init_statistics_parity(parity_zoo, family):
  """Fresh units vs the statistics of the reference's own init (fixture ``init_weights_stats``), tensor by tensor:
  constants exactly; random tensors with the same std (within sampling error), mean, and family (bounded like
  PyTorch's uniform default, or unbounded like Kaiming-normal / the random graph)."""
  ref = parity_zoo.json(f'{family}_stats.json')['init_weights_stats']
  compared = 0
  for prefix, unit, fill in _units(family):
    key_map = KeyMap()
    fill(key_map, prefix, (), unit)
    flat = dict(nnx.to_flat_state(nnx.state(unit)))
    for key, (path, _) in key_map.params.items():
      if key.endswith(('running_mean', 'running_var')):
        continue
      stats, ours = ref[key], np.asarray(flat[path][...])
      assert ours.size == int(np.prod(stats['shape'])), key
      compared += 1
      if stats['std'] == 0:
        np.testing.assert_allclose(ours, stats['mean'], rtol=1e-6, err_msg=key)
        continue
      n, std = ours.size, stats['std']
      assert abs(ours.std(ddof=1) / std - 1) < 6 / np.sqrt(2 * n), f'{key}: std {ours.std():.4g} vs {std:.4g}'
      assert abs(ours.mean() - stats['mean']) < 8 * std / np.sqrt(n), f'{key}: mean {ours.mean():.4g}'
      if n >= 500:
        ref_bounded = max(stats['mean'] - stats['min'], stats['max'] - stats['mean']) < 1.8 * std
        ours_bounded = np.abs(ours - ours.mean()).max() < 1.8 * ours.std()
        assert ref_bounded == ours_bounded, f'{key}: init family differs (reference bounded={ref_bounded})'
  assert compared >= {'msg3d': 70, 'dgstgcn': 40}[family]


@pytest.mark.parametrize('window, stride, dilation', [(3, 1, 1), (5, 2, 1), (3, 2, 2)])
def test_unfold_windows_is_nn_unfold_over_time(window, stride, dilation):
  """``out[b, t', j * V + v] = x_padded[b, t' * stride + j * dilation, v]`` with centred zero padding."""
  x = np.random.default_rng(0).normal(size=(2, 9, 4, 3)).astype(np.float32)
  got = np.asarray(unfold_windows(jnp.asarray(x), window, stride, dilation))
  pad = (window + (window - 1) * (dilation - 1) - 1) // 2
  padded = np.pad(x, ((0, 0), (pad, pad), (0, 0), (0, 0)))
  num_windows = (9 + 2 * pad - dilation * (window - 1) - 1) // stride + 1
  expected = np.zeros((2, num_windows, window * 4, 3), np.float32)
  for t in range(num_windows):
    for j in range(window):
      expected[:, t, j * 4:(j + 1) * 4] = padded[:, t * stride + j * dilation]
  np.testing.assert_array_equal(got, expected)


def _equations(jaxpr):
  yield from jaxpr.eqns
  for sub in jax_core.subjaxprs(jaxpr):
    yield from _equations(sub)


@pytest.mark.parametrize('cfg', [pytest.param(SLIM_MSG3D, marks=pytest.mark.slow),  # ~10 s to trace
                                 SLIM_DGSTGCN], ids=['msg3d', 'dgstgcn'])
def test_bfloat16_forward_and_backward_run_every_conv_and_matmul_in_bfloat16(cfg):
  """Traced, not run: with bf16 parameters and input (what a bf16 train step feeds), every convolution and
  dot_general (einsum, matmul) of the forward and backward pass takes bf16 operands; fixed graphs are cast."""
  model = nnx.eval_shape(lambda: create_model(cfg, nnx.Rngs(0)))
  graphdef, params, rest = nnx.split(model, nnx.Param, ...)
  params = jax.tree.map(lambda p: jax.ShapeDtypeStruct(p.shape, jnp.bfloat16), params)
  x = jax.ShapeDtypeStruct((2, 1, 2, 8, 25, 3), jnp.bfloat16)

  def loss(params, rest, x):
    return jnp.sum(nnx.merge(graphdef, params, rest, copy=True)(x))

  jaxpr = jax.make_jaxpr(jax.grad(loss))(params, rest, x)
  operands = [tuple(str(v.aval.dtype) for v in eqn.invars) for eqn in _equations(jaxpr.jaxpr)
              if eqn.primitive.name in ('conv_general_dilated', 'dot_general')]
  assert len(operands) > 50
  assert {d for ops in operands for d in ops} == {'bfloat16'}


@pytest.mark.slow  # ~40 s on 2 cores: four whole-network compiles
def test_output_shapes_and_bfloat16_compute():
  """Multi-clip input, odd length (time /2 twice, ceil), and a bf16 step: float32 scores close to float32's."""
  x = jax.random.normal(jax.random.key(0), (2, 2, 2, 15, 25, 3))
  for cfg in (SLIM_MSG3D, SLIM_DGSTGCN):
    model = create_model(cfg, nnx.Rngs(0))
    model.eval()
    backbone_out = nnx.eval_shape(lambda m: m.backbone(x.reshape((4,) + x.shape[2:])), model)
    t_out = 4 if cfg['name'] == 'msg3d' else 8  # MS-G3D halves time twice, the 2-block DG-STGCN once
    assert backbone_out.shape == (8, t_out, 25, model.backbone.out_channels)
    scores = nnx.jit(lambda m, v: m(v))(model, x)
    bf16 = nnx.clone(model)
    nnx.update(bf16, jax.tree.map(lambda p: p.astype(jnp.bfloat16), nnx.state(bf16, nnx.Param)))
    scores_bf16 = nnx.jit(lambda m, v: m(v))(bf16, x.astype(jnp.bfloat16))
    assert scores.shape == scores_bf16.shape == (2, 2, 5) and scores_bf16.dtype == jnp.float32
    np.testing.assert_allclose(scores_bf16, scores, atol=0.05 * float(jnp.abs(scores).max()) + 0.02)


def test_dgstgcn_blocks_start_from_one_random_graph():
  """PySKL draws the ``random`` graph once and gives every block a copy: N(init_off, init_std^2) ``[K, V, V]``."""
  cfg = {**SLIM_DGSTGCN, 'num_stages': 3, 'graph_cfg': {'layout': 'coco', 'mode': 'random', 'num_filter': 4,
                                                       'init_off': 0.5, 'init_std': 0.1}}
  # Only the graphs leave the jitted build, so XLA drops every other initialiser: a cheap compile.
  graphs = jax.jit(lambda: [b.gcn.A[...] for b in create_model(cfg, nnx.Rngs(0)).backbone.blocks])()
  assert [g.shape for g in graphs] == [(4, 17, 17)] * 3
  np.testing.assert_array_equal(graphs[0], graphs[1])
  np.testing.assert_array_equal(graphs[0], graphs[2])
  assert abs(float(graphs[0].mean()) - 0.5) < 0.02 and abs(float(graphs[0].std()) - 0.1) < 0.01


@pytest.mark.parametrize('make, match', [
    (lambda: create_model({**SLIM_MSG3D, 'graph_cfg': {'layout': 'nturgb+d', 'mode': 'spatial'}}, nnx.Rngs(0)),
     'binary_adj'),
    (lambda: create_model({**SLIM_MSG3D, 'edition': '0.x'}, nnx.Rngs(0)), 'edition'),
    (lambda: create_model({**SLIM_DGSTGCN, 'gcn_ctr': 'NA'}, nnx.Rngs(0)), "'NA', per-frame graphs"),
    (lambda: create_model({**SLIM_DGSTGCN, 'graph_cfg': {'layout': 'coco', 'mode': 'random', 'std': 1}},
                          nnx.Rngs(0)), 'random graph_cfg takes'),
    (lambda: parse_ms_cfg([(3, 1), ('max', 5)]), r"\('max', 3\)"),
    (lambda: parse_ms_cfg([(3, 1), '3x3']), 'ms_cfg entries'),
])
def test_bad_config_raises_clear_error(make, match):
  with pytest.raises(ValueError, match=match):
    make()


def test_ms_cfg_survives_a_json_round_trip():
  """Configs store ``tcn_ms_cfg`` tuples; JSON (and ConfigDict round trips) turn them into lists."""
  assert parse_ms_cfg([[3, 1], [3, 2], ['max', 3], '1x1']) == ((3, 1), (3, 2), ('max', 3), '1x1')


# ---------------------------------------- DG-STGCN options beyond the fixture ----------------------------------------
# PySKL's dggcn / dgmstcn forward passes transcribed to NumPy in PyTorch's [N, C, T, V] layout, run on the module's
# own randomised parameters (BN in eval mode): the options the NTU60 fixture does not exercise.

def _softmax(x, axis):
  e = np.exp(x - x.max(axis=axis, keepdims=True))
  return e / e.sum(axis=axis, keepdims=True)


NP_ACTS = {'tanh': np.tanh, 'relu': relu, 'sigmoid': lambda a: 1 / (1 + np.exp(-a)),
           'softmax': lambda a: _softmax(a, -2)}


def dggcn_reference(x, unit: DGGraphConv, ctr, ada, subset_wise, ctr_act, ada_act):
  """PySKL ``dggcn.forward`` (pyskl/models/gcns/utils/gcn.py), ctr / ada in (None, 'T')."""
  n, _, t, v = x.shape
  k, mid = unit.num_subsets, unit.mid
  res = bn(conv(x, unit.down.conv), unit.down.bn) if unit.down is not None else x
  a = np.asarray(unit.A[...], np.float64)[None, :, None, None]
  alpha, beta = np.asarray(unit.alpha[...], np.float64), np.asarray(unit.beta[...], np.float64)
  pre = relu(bn(conv(x, unit.pre), unit.pre_bn)).reshape(n, k, mid, t, v)
  if ctr or ada:
    pooled = x.mean(axis=-2, keepdims=True)
    x1 = conv(pooled, unit.conv1).reshape(n, k, mid, -1, v)
    x2 = conv(pooled, unit.conv2).reshape(n, k, mid, -1, v)
  if ctr:
    graph = NP_ACTS[ctr_act](x1[..., None] - x2[..., None, :])
    graph = np.einsum('nkctuv,k->nkctuv', graph, alpha) if subset_wise else graph * alpha[0]
    a = graph + a
  if ada:
    graph = NP_ACTS[ada_act](np.einsum('nkctv,nkctw->nktvw', x1, x2)[:, :, None])
    graph = np.einsum('nkctuv,k->nkctuv', graph, beta) if subset_wise else graph * beta[0]
    a = graph + a
  if ctr or ada:
    y = (np.einsum('nkctv,nkvw->nkctw', pre, a[:, :, 0, 0]) if a.shape[2] == 1 else
         np.einsum('nkctv,nkcvw->nkctw', pre, a[:, :, :, 0]))
  else:
    y = np.einsum('nkctv,kvw->nkctw', pre, a[0, :, 0, 0])
  y = conv(y.reshape(n, -1, t, v), unit.post)
  return relu(bn(y, unit.bn) + res)


def dgmstcn_reference(x, unit: DGTemporalConv, stride):
  """PySKL ``dgmstcn.forward`` (pyskl/models/gcns/utils/tcn.py), dropout 0."""
  v = x.shape[-1]
  x = np.concatenate([x, x.mean(-1, keepdims=True)], -1)
  outs = []
  for entry, branch in zip(unit.ms_cfg, unit.branches):
    if entry == '1x1':
      outs.append(conv(x, branch, stride=stride))
      continue
    y = relu(bn(conv(x, branch.conv), branch.bn))
    if entry[0] == 'max':
      yp = np.pad(y, ((0, 0), (0, 0), (1, 1), (0, 0)), constant_values=-np.inf)
      t_out = (y.shape[2] - 1) // stride + 1
      outs.append(np.max(np.stack([yp[:, :, j:j + stride * (t_out - 1) + 1:stride] for j in range(3)]), 0))
    else:
      outs.append(conv(y, branch.tcn, stride, entry[1]))
  out = np.concatenate(outs, axis=1)
  feat = out[..., :v] + np.einsum('nct,v->nctv', out[..., v], np.asarray(unit.add_coeff[...], np.float64)[:v])
  feat = conv(relu(bn(feat, unit.transform_bn)), unit.transform_conv)
  return bn(feat, unit.bn)


def _run_eval(module, x_nctv):
  module.eval()
  y = nnx.jit(lambda m, v: m(v))(module, jnp.asarray(x_nctv.transpose(0, 2, 3, 1), jnp.float32))
  return np.asarray(y, np.float64).transpose(0, 3, 1, 2)


@pytest.mark.parametrize('ctr, ada, subset_wise, ctr_act, ada_act, c_in', [
    ('T', 'T', True, 'tanh', 'softmax', 16),
    ('T', None, False, 'sigmoid', 'softmax', 24),
    (None, 'T', True, 'tanh', 'relu', 24),
    (None, None, False, 'tanh', 'softmax', 16),
])
def test_dggcn_options_match_pyskl(ctr, ada, subset_wise, ctr_act, ada_act, c_in):
  a = np.random.default_rng(1).normal(0.04, 0.02, (4, 7, 7))
  unit = DGGraphConv(c_in, 16, a, ratio=0.25, ctr=ctr, ada=ada, subset_wise=subset_wise, ctr_act=ctr_act,
                     ada_act=ada_act, rngs=nnx.Rngs(params=jax.random.key(0, impl='rbg')))
  randomise(unit, 3)
  x = np.random.default_rng(2).normal(size=(2, c_in, 6, 7))
  np.testing.assert_allclose(_run_eval(unit, x), dggcn_reference(x, unit, ctr, ada, subset_wise, ctr_act, ada_act),
                             rtol=1e-4, atol=1e-4)


def test_dgmstcn_other_ms_cfg_stride_and_fewer_joints_match_pyskl():
  ms_cfg = [(5, 1), (3, 2), ('max', 3), '1x1']
  unit = DGTemporalConv(12, 20, stride=2, ms_cfg=ms_cfg, num_joints=25,
                        rngs=nnx.Rngs(params=jax.random.key(0, impl='rbg')))
  randomise(unit, 4)
  x = np.random.default_rng(5).normal(size=(2, 12, 9, 17))  # 17 joints: add_coeff[:17] of 25
  got = _run_eval(unit, x)
  assert got.shape == (2, 20, 5, 17)
  np.testing.assert_allclose(got, dgmstcn_reference(x, unit, 2), rtol=1e-4, atol=1e-4)
