"""GCN recognizers: sizes and init against MMAction2's numbers, shapes, state kinds, key maps, bad input."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hlo_text import fused_computations
from skeljax.checkpoint.gcn_import import mmaction_key_map
from skeljax.models import create_model
from skeljax.models.gcn.units.aagcn_unit import STCAttention
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.units.conv import Adjacency


def n_params(cfg: dict) -> int:
  """Parameter count of the model ``cfg`` builds, from shapes only (nothing is initialised)."""
  model = nnx.eval_shape(lambda: create_model(cfg, nnx.Rngs(0)))
  return sum(int(np.prod(a.shape)) for a in jax.tree.leaves(nnx.state(model, nnx.Param)))


# Totals stated by the reference (fixture READMEs / reference_spec §9.1), weights + biases + BN affine.
@pytest.mark.parametrize('cfg, expected', [
    ({'name': 'stgcn', 'num_classes': 60}, 3_098_832),
    ({'name': 'stgcn', 'num_classes': 60, 'graph_cfg': {'layout': 'coco', 'strategy': 'stgcn_spatial'},
      'edition': '0.x'}, 3_088_704),
    ({'name': 'aagcn', 'num_classes': 60}, 3_469_520),
    ({'name': 'aagcn', 'num_classes': 60, 'graph_cfg': {'layout': 'coco', 'mode': 'spatial'}}, 3_459_344),
])
def test_parameter_counts_match_reference(cfg, expected):
  assert n_params(cfg) == expected


def test_parity_parameter_counts_match_fixture_manifests(parity_1x, parity_0x):
  """The fixture manifests count every model the fixtures were made with (incl. 0.x AGCN)."""
  cases = [(parity_1x, 'stgcn', {'name': 'stgcn'}), (parity_1x, 'agcn', {'name': 'aagcn'}),
           (parity_0x, 'agcn0x_ntu3d', {'name': 'agcn'}),
           (parity_0x, 'stgcn0x_ntu3d', {'name': 'stgcn', 'edition': '0.x'})]
  manifests = {id(parity_1x): parity_1x.json('manifest.json'), id(parity_0x): parity_0x.json('manifest.json')}
  for fixture_dir, name, cfg in cases:
    expected = manifests[id(fixture_dir)]['models'][name]['params']['total_params']
    assert n_params({**cfg, 'num_classes': 60}) == expected, name


# AAGCN's block kinds (first, identity, strided conv residual) at full width in three blocks: its compiled train
# step shows what the ten-block one does, in a fraction of the compile time.
SHORT_AAGCN = dict(name='aagcn', num_classes=5, num_stages=3, inflate_stages=(3,), down_stages=(3,))


def _init_stats(stats_json: dict) -> dict[str, tuple[float, float, float, float]]:
  """``{key: (mean, std, min, max)}`` from either fixture edition's ``init_weights_stats``."""
  out = {}
  for key, value in stats_json['init_weights_stats'].items():
    if isinstance(value, dict):
      out[key] = (value['mean'], value['std'], value['min'], value['max'])
    else:
      out[key] = tuple(value)
  return out


INIT_CASES = [('parity_1x', 'stgcn_stats.json', {'name': 'stgcn'}, '1.x'),
              ('parity_1x', 'agcn_stats.json', {'name': 'aagcn'}, '1.x'),
              ('parity_0x', 'stgcn0x_ntu3d_stats.json', {'name': 'stgcn', 'edition': '0.x'}, '0.x'),
              ('parity_0x', 'agcn0x_ntu3d_stats.json', {'name': 'agcn'}, '0.x')]


@pytest.mark.parametrize('fixtures, stats_file, cfg, edition', INIT_CASES,
                         ids=[c[1].split('_stats')[0] for c in INIT_CASES])
def test_parity_init_matches_reference_init_statistics(request, fixtures, stats_file, cfg, edition):
  """Fresh init vs the statistics of MMAction2's own ``init_weights()`` state, tensor by tensor.

  Constant tensors must match exactly; random ones must have the same std (within sampling error) and
  the same family: bounded like PyTorch's uniform default, or unbounded like Kaiming-normal.
  """
  fixture_dir = request.getfixturevalue(fixtures)
  ref = _init_stats(fixture_dir.json(stats_file))
  model = create_model({**cfg, 'num_classes': 60}, nnx.Rngs(0))
  key_map = mmaction_key_map(model, edition)
  flat = dict(nnx.to_flat_state(nnx.state(model)))
  compared = 0
  for key, (mean, std, lo, hi) in ref.items():
    if key in key_map.checks:
      ours = key_map.checks[key]
    elif key in key_map.params:
      ours = np.asarray(flat[key_map.params[key][0]][...])
    else:
      continue
    compared += 1
    n = ours.size
    if std == 0:
      np.testing.assert_allclose(ours, mean, rtol=1e-6, err_msg=key)
      continue
    ours_std = ours.std(ddof=1)  # torch.std is unbiased
    if key.endswith('.A'):  # graph: deterministic
      np.testing.assert_allclose([ours.mean(), ours_std, ours.min(), ours.max()], [mean, std, lo, hi],
                                 rtol=1e-4, atol=1e-6, err_msg=key)
      continue
    tolerance = 6 / np.sqrt(2 * n)
    assert abs(ours_std / std - 1) < tolerance, f'{key}: std {ours_std:.4g} vs reference {std:.4g}'
    assert abs(ours.mean() - mean) < 8 * std / np.sqrt(n), f'{key}: mean {ours.mean():.4g} vs {mean:.4g}'
    if n >= 500:
      ref_bounded = max(abs(lo), abs(hi)) < 1.8 * std  # uniform: max|x| = sqrt(3) std
      ours_bounded = np.abs(ours).max() < 1.8 * ours_std
      assert ref_bounded == ours_bounded, f'{key}: init family differs (reference bounded={ref_bounded})'
  assert compared >= 100


def test_output_shapes_multi_clip_odd_length_and_layouts():
  x = jnp.zeros((2, 3, 2, 15, 17, 3))
  model = create_model({'name': 'stgcn', 'num_classes': 7, 'graph_cfg': {'layout': 'coco', 'strategy':
                                                                          'stgcn_spatial'}}, nnx.Rngs(0))
  shapes = nnx.eval_shape(lambda m: (m(x), m.features(x), m.backbone(x.reshape((6,) + x.shape[2:]))), model)
  assert [s.shape for s in shapes] == [(2, 3, 7), (2, 3, 256),
                                       (12, 4, 17, 256)]  # T: 15 -> 8 -> 4 (ceil, PyTorch pad 4 stride 2)


@pytest.mark.parametrize('layout, kernel_v', [('nturgb+d', 25), ('openpose', 17)])
def test_aagcn_attention_shapes(layout, kernel_v):
  cfg = {'name': 'aagcn', 'num_classes': 5, 'attention': True,
         'graph_cfg': {'layout': layout, 'strategy': 'spatial'}}
  model = nnx.eval_shape(lambda: create_model(cfg, nnx.Rngs(0)))
  attention = model.backbone.blocks[4].gcn.attention
  # MMAction2: conv_sa kernel V (V-1 if V is even), conv_ta kernel 9, fc1c C -> C/2, fc2c C/2 -> C.
  assert attention.conv_sa.kernel.shape == (kernel_v, 128, 1)
  assert attention.conv_ta.kernel.shape == (9, 128, 1)
  assert attention.fc1c.kernel.shape == (128, 64) and attention.fc2c.kernel.shape == (64, 128)
  scores = nnx.eval_shape(lambda m: m(jnp.ones((1, 1, 2, 12, model.backbone.num_node, 3))), model)
  assert scores.shape == (1, 1, 5)


def test_aagcn_attention_gates_start_as_in_reference():
  """At init conv_ta and fc2c are 0 (MMAction2 init_cfg), so those two gates are exactly sigmoid(0) = 1/2."""
  attention = STCAttention(64, 18, rngs=nnx.Rngs(0))
  assert not np.any(attention.conv_ta.kernel[...]) and not np.any(attention.fc2c.kernel[...])
  y = jax.random.normal(jax.random.key(1), (2, 6, 18, 64))
  spatial_gate = jax.nn.sigmoid(attention.conv_sa(y.mean(axis=1)))[:, None]
  assert float(jnp.std(spatial_gate)) > 1e-3  # conv_sa is Xavier-initialised, not constant
  after_spatial = y * spatial_gate + y
  np.testing.assert_allclose(attention(y), after_spatial * 1.5 * 1.5, rtol=1e-5, atol=1e-6)


def test_fixed_graph_is_a_per_layer_buffer_not_a_param():
  model = create_model({'name': 'stgcn', 'num_classes': 4}, nnx.Rngs(0))
  adjacencies = [block.gcn.A for block in model.backbone.blocks]
  assert all(isinstance(a, Adjacency) for a in adjacencies)
  assert len({id(a) for a in adjacencies}) == len(adjacencies)  # not shared between layers
  param_paths = [p for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Param))]
  assert not any(p[-1] == 'A' for p in param_paths)
  assert any(p[-1] == 'PA' for p in param_paths)

  def loss_fn(m):
    return jnp.sum(m(jnp.ones((1, 1, 2, 8, 25, 3))) ** 2)

  grads = nnx.eval_shape(nnx.grad(loss_fn), model)  # what nnx.grad differentiates: Params only
  assert sorted(p for p, _ in nnx.to_flat_state(grads)) == sorted(param_paths)
  # AAGCN's per-layer A is learnable (MMAction2 nn.Parameter); its configured graph stays a buffer.
  aagcn = create_model({'name': 'aagcn', 'num_classes': 4}, nnx.Rngs(0))
  assert isinstance(aagcn.backbone.blocks[0].gcn.A, nnx.Param)
  assert isinstance(aagcn.backbone.A, Adjacency)


@pytest.mark.parametrize('cfg, edition', [
    ({'name': 'stgcn'}, '1.x'), ({'name': 'stgcn'}, '0.x'), ({'name': 'stgcn'}, 'pyskl'),
    ({'name': 'stgcn', 'edge_importance': False, 'data_bn_type': 'MVC'}, '1.x'),
    ({'name': 'agcn'}, '0.x'), ({'name': 'aagcn', 'attention': True}, '1.x'),
    ({'name': 'aagcn', 'data_bn_type': None}, 'pyskl'),
])
def test_key_map_fills_every_param_and_batch_stat_exactly_once(cfg, edition):
  model = create_model({**cfg, 'num_classes': 11}, nnx.Rngs(0))
  key_map = mmaction_key_map(model, edition)
  targets = [path for path, _ in key_map.params.values()]
  assert len(targets) == len(set(targets))
  state_paths = {p for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)))}
  assert set(targets) == state_paths


def test_dropout_placement_and_train_only_behaviour():
  cfg = {'name': 'stgcn', 'num_classes': 6, 'tcn_dropout': 0.5, 'head_dropout': 0.5}
  model = nnx.eval_shape(lambda: create_model(cfg, nnx.Rngs(params=0, dropout=1)))
  # As MMAction2: every block's tcn but the first gets tcn_dropout; the head has its own.
  assert model.backbone.blocks[0].tcn.drop is None
  assert all(block.tcn.drop.rate == 0.5 for block in model.backbone.blocks[1:])
  assert model.cls_head.drop.rate == 0.5

  head = GCNHead(16, 3, dropout=0.5, rngs=nnx.Rngs(params=0, dropout=1))
  x = jax.random.normal(jax.random.key(0), (4, 5, 7, 16))
  head.train()
  first, second = head(x, 2), head(x, 2)
  assert not np.allclose(first, second)  # fresh masks each call
  head.eval()
  pooled = x.mean(axis=(1, 2)).reshape(2, 2, 16).mean(axis=1)
  np.testing.assert_allclose(head(x, 2), pooled @ head.fc.kernel[...] + head.fc.bias[...], rtol=1e-5)


@pytest.mark.parametrize('cfg, match', [
    ({'name': 'stgcn', 'edition': '2.x'}, 'edition'),
    ({'name': 'agcn', 'edition': '1.x'}, "use 'aagcn'"),
    ({'name': 'aagcn', 'edition': '0.x'}, "use 'agcn'"),
    ({'name': 'stgcn', 'graph_cfg': {'layout': 'coco'}}, 'graph_cfg needs layout and strategy'),
    ({'name': 'stgcn', 'data_bn_type': 'CV'}, 'data_bn_type'),
    ({'name': 'stgcn', 'head': 'stgcn0x', 'head_dropout': 0.5}, 'no dropout'),
])
def test_bad_config_raises_clear_error(cfg, match):
  with pytest.raises(ValueError, match=match):
    create_model({**cfg, 'num_classes': 3}, nnx.Rngs(0))


def test_bad_input_raises_clear_error():
  model = create_model({'name': 'aagcn', 'num_classes': 3}, nnx.Rngs(0))
  with pytest.raises(ValueError, match=r'\[N, clips, M, T, V, C\]'):
    model(jnp.zeros((2, 2, 8, 25, 3)))
  with pytest.raises(ValueError, match='V=25, C=3; input has V=17'):
    model(jnp.zeros((1, 1, 2, 8, 17, 3)))
  with pytest.raises(ValueError, match="'MVC' was built for num_person=2, input has M=1"):
    model(jnp.zeros((1, 1, 1, 8, 25, 3)))
  with pytest.raises(ValueError, match="0.x 2s-AGCN checkpoints need model 'agcn'"):
    mmaction_key_map(model, '0.x')


def test_batchnorm_bfloat16_input_keeps_float32_statistics():
  """bf16 activations and parameters (a bf16 train step): mean / var reduced in float32, stats float32."""
  from skeljax.models.layers import BatchNorm  # pylint: disable=g-import-not-at-top
  bn = BatchNorm(4)
  nnx.update(bn, jax.tree.map(lambda p: p.astype(jnp.bfloat16), nnx.state(bn, nnx.Param)))
  x = (3 * jax.random.normal(jax.random.key(0), (8, 5, 4)) + 1).astype(jnp.bfloat16)
  y = bn(x)
  assert y.dtype == jnp.bfloat16 and bn.mean[...].dtype == bn.var[...].dtype == jnp.float32
  x32 = np.asarray(x, np.float32).reshape(-1, 4)
  # A bf16 reduction would be off by ~2^-8 relative; float32 matches to rounding.
  np.testing.assert_allclose(bn.mean[...], 0.1 * x32.mean(0), rtol=1e-5)
  np.testing.assert_allclose(bn.var[...], 0.9 + 0.1 * x32.var(0, ddof=1), rtol=1e-5)


@pytest.mark.parametrize('kernel,stride,dilation,frames', [
    ((9, 1), 1, 1, 13), ((9, 1), 2, 1, 13), ((1, 1), 1, 1, 13), ((1, 1), 2, 1, 13), ((3, 1), 1, 3, 13),
    ((3, 1), 2, 2, 13), ((3, 1), 2, 3, 13), ((5, 1), 2, 1, 13), ((5, 1), 3, 1, 13),
    # sequences shorter than the kernel's span (the short-input path of temporal_conv1d)
    ((9, 1), 1, 1, 8), ((9, 1), 1, 1, 3), ((9, 1), 2, 1, 8), ((9, 1), 2, 1, 4), ((3, 1), 1, 4, 6)])
@pytest.mark.parametrize('eval_mode', [False, True])
def test_time_conv_equals_nnx_conv_with_gradients(kernel, stride, dilation, frames, eval_mode):
  """``units.conv.TimeConv`` only lowers differently from ``nnx.Conv`` (a temporal kernel as a ``(k, 1)`` conv on
  ``[B, T, V, C]``, polyphase when strided; a 1x1 conv as a matmul): same outputs and gradients, in training and
  in eval mode."""
  from skeljax.models.gcn.units import conv as gcn_units  # pylint: disable=import-outside-toplevel
  conv = gcn_units.conv2d(8, 16, kernel=kernel, stride=stride, dilation=dilation, rngs=nnx.Rngs(0))
  if eval_mode:
    conv.eval()
  x = jax.random.normal(jax.random.key(1), (2, frames, 5, 8))
  conv_ranks = {eqn.invars[0].aval.ndim for eqn in jax.make_jaxpr(conv)(x).eqns
                if eqn.primitive.name == 'conv_general_dilated'}
  assert conv_ranks == (set() if kernel[0] == 1 else {4})
  graphdef, state = nnx.split(conv)

  def loss(call):
    return lambda state, x: (call(nnx.merge(graphdef, state), x) * jnp.arange(16.0)).sum()

  (v1, g1), (v2, g2) = (jax.value_and_grad(loss(call), argnums=(0, 1))(state, x)
                        for call in (gcn_units.TimeConv.__call__, nnx.Conv.__call__))
  np.testing.assert_allclose(v1, v2, rtol=1e-5)
  for a, b in zip(jax.tree.leaves(g1), jax.tree.leaves(g2)):  # kernel, bias and input gradients
    np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-4)
  assert conv(x).shape == nnx.Conv.__call__(conv, x).shape == (2, -(-frames // stride), 5, 16)
  assert conv(x.astype(jnp.bfloat16)).dtype == jnp.float32  # promotes like nnx.Conv (float32 params)


@pytest.mark.parametrize('frames', [8, 4])
def test_short_sequences_keep_the_direct_convolution_form(frames):
  """A 9-tap conv over fewer frames: no convolution of the compiled gradients has its operands swapped.

  XLA swaps the operands of a convolution whose input is shorter than the kernel (its HLO then reverses the
  kernel, ``rhs_reversal``) and XLA:CPU runs that form ~25x slower (the last stage of a 32-frame clip).
  """
  from skeljax.models.gcn.units import conv as gcn_units  # pylint: disable=import-outside-toplevel
  kernel = jax.random.normal(jax.random.key(2), (9, 16, 16))
  x = jax.random.normal(jax.random.key(1), (4, frames, 3, 16))
  for stride in (1, 2):
    grads = jax.jit(jax.grad(lambda x, k: gcn_units.temporal_conv1d(x, k, stride, (4, 4)).sum(), argnums=(0, 1)))
    hlo = grads.lower(x, kernel).compile().as_text()
    assert ' convolution(' in hlo and 'rhs_reversal' not in hlo, stride


@pytest.mark.parametrize('dtype', [jnp.float32, jnp.bfloat16])
def test_unfused_is_the_identity_forward_and_backward(dtype):
  from skeljax.models import layers  # pylint: disable=g-import-not-at-top
  x = jax.random.normal(jax.random.key(0), (4, 7, 5), dtype) * 1e3
  anchor = jnp.asarray([[-3.7e5, 2.0]], jnp.float32)
  weights = jax.random.normal(jax.random.key(1), x.shape, dtype)
  dx, danchor = jax.jit(jax.grad(
      lambda x, a: (layers.unfused(x, a) * weights).astype(jnp.float32).sum(), argnums=(0, 1)))(x, anchor)
  np.testing.assert_array_equal(np.asarray(jax.jit(layers.unfused)(x, anchor)), np.asarray(x))
  np.testing.assert_array_equal(np.asarray(dx), np.asarray(weights))
  np.testing.assert_array_equal(np.asarray(danchor), 0)


def _short_aagcn_train_step_hlo() -> str:
  """The compiled train step of ``SHORT_AAGCN`` (as the code stands, or with a test's patches applied)."""
  import functools  # pylint: disable=g-import-not-at-top
  from skeljax import train  # pylint: disable=g-import-not-at-top
  from test_train import random_step_setup  # pylint: disable=g-import-not-at-top
  batch, step_cfg, state = random_step_setup(SHORT_AAGCN, (2, 1, 2, 32, 25, 3))
  return jax.jit(functools.partial(train.train_step, cfg=step_cfg)).lower(state, batch).compile().as_text()


@pytest.fixture(scope='module')
def short_aagcn_step_hlo() -> str:
  return _short_aagcn_train_step_hlo()


def _copies_reading_the_unit_norm(hlo: str) -> list[str]:
  import re  # pylint: disable=g-import-not-at-top
  return [line for line in hlo.split('\n')
          if re.match(r'\s*%transpose[\w.]* = .* fusion\(', line) and 'gcn____bn____' in line]


def test_gcn_block_kernel_gradient_copies_do_not_recompute_the_unit(short_aagcn_step_hlo, monkeypatch):
  """XLA:CPU's ``[C, T, N]`` copies of the temporal conv's input (for its kernel gradient) read the
  materialised gcn unit output, not a recomputation of the unit's BatchNorm / residual / ReLU chain."""
  from skeljax.models import layers  # pylint: disable=g-import-not-at-top
  assert not _copies_reading_the_unit_norm(short_aagcn_step_hlo)
  monkeypatch.setattr(layers, 'unfused', lambda x, anchor: x)
  # what XLA does without it (2 such copies here; 6 in the ten-block model)
  assert _copies_reading_the_unit_norm(_short_aagcn_train_step_hlo())


def _fusions_with_several_relus(hlo: str) -> list[int]:
  return [relus for relus in (body.count(' maximum(') for body in fused_computations(hlo)) if relus > 1]


def test_gcn_block_outputs_are_not_recomputed_in_the_backward_pass(short_aagcn_step_hlo, monkeypatch):
  """In the compiled train step no fusion recomputes a chain of block outputs (several ReLUs): the backward
  pass's masks and the next blocks read each block's materialised output."""
  from skeljax.models.gcn import backbone  # pylint: disable=g-import-not-at-top
  assert not _fusions_with_several_relus(short_aagcn_step_hlo)
  monkeypatch.setattr(backbone.GCNBlock, '_materialised_in_training', lambda self, y, anchor: y)
  # what XLA does without it (4 fusions with 2 ReLUs here; 25 with up to 4 in the ten-block model)
  assert _fusions_with_several_relus(_short_aagcn_train_step_hlo())


def _short_eval_step_hlo(model_cfg: dict) -> str:
  """The compiled eval step of a short GCN recognizer on a 32-frame clip."""
  import functools  # pylint: disable=g-import-not-at-top
  from skeljax import train  # pylint: disable=g-import-not-at-top
  from test_train import random_step_setup, toy_config  # pylint: disable=g-import-not-at-top
  batch, _, state = random_step_setup(model_cfg, (2, 1, 2, 32, 25, 3))
  step_cfg = train.make_step_config(toy_config(model=model_cfg, global_batch_size=2), steps_per_epoch=1,
                                    eval_mode=True)
  return jax.jit(functools.partial(train.eval_step, cfg=step_cfg)).lower(state, batch).compile().as_text()


def _reductions_with_convolutions(hlo: str) -> list[str]:
  return [body for body in fused_computations(hlo) if ' reduce(' in body and ' convolution(' in body]


def test_eval_pooling_reads_the_materialised_backbone_output(monkeypatch):
  """In the compiled eval step the head's mean over (T, V) reads the backbone's output, not a fusion that
  recomputes the last block's temporal convolution and ReLU inside YNNPACK's reduction."""
  from skeljax.models.gcn import head  # pylint: disable=g-import-not-at-top
  model_cfg = dict(name='stgcn', num_classes=5, num_stages=3, inflate_stages=(3,), down_stages=(3,))
  assert not _reductions_with_convolutions(_short_eval_step_hlo(model_cfg))
  monkeypatch.setattr(head.GCNHead, '_materialised_in_eval', lambda self, x: x)
  assert _reductions_with_convolutions(_short_eval_step_hlo(model_cfg))  # what XLA does without it


def test_eval_pooling_is_the_mean_and_keeps_a_non_finite_sample_to_itself():
  """The eval-mode head pools as the plain mean (the division is by an exact 1), and one sample's non-finite
  value does not reach the others through it."""
  from skeljax.models.gcn.head import GCNHead  # pylint: disable=g-import-not-at-top
  gcn_head = GCNHead(8, 3, rngs=nnx.Rngs(0))
  gcn_head.eval()
  x = jax.random.normal(jax.random.key(0), (4, 6, 5, 8)) * 1e3
  expected = np.asarray(x, np.float64).mean(axis=(1, 2)).reshape(2, 2, 8).mean(axis=1)
  pooled = jax.jit(gcn_head.pool, static_argnums=1)(x, 2)
  np.testing.assert_allclose(np.asarray(pooled), expected, rtol=1e-6, atol=1e-3)
  pooled = gcn_head.pool(x.at[0, 0, 0, 0].set(jnp.inf), 1)
  assert not np.isfinite(np.asarray(pooled[0])).all() and np.isfinite(np.asarray(pooled[1:])).all()


def _embedding_matmul_widths(unit, x) -> list[int]:
  """Output widths of the lowered unit's matmuls that read ``x`` as ``[B * T * V, Ci]`` (its 1x1 convs)."""
  import re  # pylint: disable=g-import-not-at-top
  graphdef, state = nnx.split(unit)
  text = jax.jit(lambda state, x: nnx.merge(graphdef, state)(x)).lower(state, x).as_text()
  rows = int(np.prod(x.shape[:-1]))
  return sorted(int(width) for width in re.findall(
      rf'stablehlo.dot_general .*contracting_dims = \[1\] x \[0\].*-> tensor<{rows}x(\d+)xf32>', text))


@pytest.mark.parametrize('unit_name', ['AGCNUnit', 'AAGCNUnit'])
@pytest.mark.parametrize('c_in', [16, 96])  # theta / phi recomputed in the backward pass, and kept
def test_adaptive_unit_embeddings_are_one_matmul_in_training_only(unit_name, c_in):
  """In training the (A)AGCN unit computes theta and phi (``K * inter`` channels each) in one matmul of
  ``2 K * inter`` columns; in eval in two (the joint output's halves relayout slower there). Same logits."""
  import functools  # pylint: disable=g-import-not-at-top
  from skeljax.models.gcn import graph  # pylint: disable=g-import-not-at-top
  from skeljax.models.gcn.units import aagcn_unit, agcn_unit  # pylint: disable=g-import-not-at-top
  unit_cls = getattr(agcn_unit if unit_name == 'AGCNUnit' else aagcn_unit, unit_name)
  adjacency = graph.build_adjacency('nturgb+d', 'spatial')
  unit = unit_cls(c_in, 32, adjacency, rngs=nnx.Rngs(0))
  x = jax.random.normal(jax.random.key(0), (2, 8, 25, c_in))
  embeddings = 3 * (32 // 4)
  unit.train()
  train_widths = _embedding_matmul_widths(unit, x)
  assert 2 * embeddings in train_widths and embeddings not in train_widths, train_widths
  unit.eval()
  eval_widths = _embedding_matmul_widths(unit, x)
  assert eval_widths.count(embeddings) == 2 and 2 * embeddings not in eval_widths, eval_widths

  args = (x, *agcn_unit.stacked_kernels(x, unit.conv_a)[1:], *agcn_unit.stacked_kernels(x, unit.conv_b)[1:])
  weights = jax.random.normal(jax.random.key(1), (2, 3, 25, 25))

  def value_and_grads(logits_fn):
    return jax.value_and_grad(lambda *a: (logits_fn(*a) * weights).sum(), argnums=(0, 1, 2, 3, 4))(*args)

  ref_value, ref_grads = value_and_grads(agcn_unit._attention_logits_kept)  # two products
  for logits_fn in (functools.partial(agcn_unit._attention_logits_kept, one_matmul=True),
                    agcn_unit._attention_logits[True]):  # kept, and recomputed in the backward pass
    value, grads = value_and_grads(logits_fn)
    np.testing.assert_allclose(value, ref_value, rtol=1e-5)
    for grad, ref in zip(grads, ref_grads):
      np.testing.assert_allclose(grad, ref, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('per_sample', [False, True])
def test_aggregation_gradients_match_autodiff_of_the_plain_matmul(per_sample, monkeypatch):
  """The aggregation's written-out gradient (the input gradient through the transposed graph, a plain matmul
  for XLA:CPU) gives autodiff's values for a shared graph ``[K, V, W]`` and a per-sample one ``[B, K, V, W]``."""
  from skeljax.models.gcn.units import aggregation  # pylint: disable=g-import-not-at-top
  y = jax.random.normal(jax.random.key(0), (3, 5, 25, 3, 8))
  shape = (3, 3, 25, 25) if per_sample else (3, 25, 25)
  adjacency = jax.random.normal(jax.random.key(1), shape)
  weights = jax.random.normal(jax.random.key(2), (3, 5, 25, 8))

  def grads(written_out):
    if not written_out:
      monkeypatch.setattr(aggregation, '_frame_matmul', aggregation._frame_matmul_plain)  # autodiff's gradient
    loss = lambda y, a: (aggregation.aggregate_subsets(y, a) * weights).sum()
    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(y, adjacency)

  (value, (d_y, d_a)), (ref_value, (ref_d_y, ref_d_a)) = grads(True), grads(False)
  np.testing.assert_allclose(value, ref_value, rtol=1e-6)
  np.testing.assert_allclose(d_y, ref_d_y, rtol=1e-5, atol=1e-5)
  np.testing.assert_allclose(d_a, ref_d_a, rtol=1e-5, atol=1e-5)
  # and both are the einsum's
  spec = 'btvkc,bkvw->btwc' if per_sample else 'btvkc,kvw->btwc'
  e_d_y, e_d_a = jax.grad(lambda y, a: (jnp.einsum(spec, y, a) * weights).sum(), argnums=(0, 1))(y, adjacency)
  np.testing.assert_allclose(d_y, e_d_y, rtol=1e-4, atol=1e-4)
  np.testing.assert_allclose(d_a, e_d_a, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize('c_in, c_out', [(3, 16), (16, 16), (16, 8)])
@pytest.mark.parametrize('per_sample', [False, True])
def test_convolve_and_aggregate_is_the_einsum_in_the_cheaper_order(c_in, c_out, per_sample):
  """A graph unit's 1x1 conv + aggregation gives the einsum's values and gradients in either order, and with
  fewer input than output channels aggregates the input first: its per-frame graph products carry ``c_in``
  channels, not ``c_out``."""
  from skeljax.models.gcn.units import aggregation  # pylint: disable=g-import-not-at-top
  b, t, v, k = 2, 5, 25, 3
  x = jax.random.normal(jax.random.key(0), (b, t, v, c_in))
  kernel = jax.random.normal(jax.random.key(1), (c_in, k, c_out))
  adjacency = jax.random.normal(jax.random.key(2), (b, k, v, v) if per_sample else (k, v, v))
  weights = jax.random.normal(jax.random.key(3), (b, t, v, c_out))
  spec = 'btvc,cko,bkvw->btwo' if per_sample else 'btvc,cko,kvw->btwo'

  def loss(fn):
    return jax.value_and_grad(lambda *a: (fn(*a) * weights).sum(), argnums=(0, 1, 2))(x, kernel, adjacency)

  value, grads = loss(aggregation.convolve_and_aggregate)
  ref_value, ref_grads = loss(lambda *a: jnp.einsum(spec, *a))
  np.testing.assert_allclose(value, ref_value, rtol=1e-5)
  for got, ref in zip(grads, ref_grads, strict=True):
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-4 * float(np.abs(ref).max()))
  jaxpr = jax.make_jaxpr(aggregation.convolve_and_aggregate)(x, kernel, adjacency)
  frame_products = [eqn.outvars[0].aval.shape for eqn in jaxpr.jaxpr.eqns
                    if eqn.primitive.name == 'custom_vjp_call' or eqn.primitive.name == 'dot_general']
  per_frame = [shape for shape in frame_products if len(shape) == 3 and shape[0] == b * t]
  assert per_frame == [(b * t, v * k, c_in) if c_in < c_out else (b * t, v, c_out)], per_frame


def _reduces_reading_a_product(hlo: str) -> list[str]:
  """Reductions that read a dot's output directly (through bitcasts only), one per fused computation line."""
  import re  # pylint: disable=g-import-not-at-top
  found = []
  for body in re.findall(r'\n%?[\w.\-]+ \([^\n]*\{\n(.*?)\n\}', hlo, re.S):
    producers = {m.group(1): m.group(2) for m in re.finditer(r'%([\w.\-]+) = \S+ (\w+)\(', body)}
    operands = {m.group(1): m.group(2) for m in re.finditer(r'%([\w.\-]+) = \S+ \w+\(%([\w.\-]+)', body)}
    for line in body.split('\n'):
      m = re.search(r'= \S+ reduce\(%([\w.\-]+)', line)
      name = m.group(1) if m else None
      while name is not None and producers.get(name) == 'bitcast':
        name = operands.get(name)
      if name is not None and producers.get(name) == 'dot':
        found.append(line.strip())
  return found


def test_per_sample_graph_gradient_sum_does_not_read_the_product_directly(monkeypatch):
  """The per-sample graph gradient's per-frame products pass through a runtime 1 before the sum over frames:
  XLA:CPU fused product + reshape + sum into one YNNPACK fusion that ran on one thread (3x slower)."""
  from skeljax.models import layers  # pylint: disable=g-import-not-at-top
  from skeljax.models.gcn.units import aggregation  # pylint: disable=g-import-not-at-top
  y = jax.random.normal(jax.random.key(0), (4, 10, 25, 3, 16))
  adjacency = jax.random.normal(jax.random.key(1), (4, 3, 25, 25))
  weights = jax.random.normal(jax.random.key(2), (4, 10, 25, 16))

  def reduces(with_runtime_one):
    if not with_runtime_one:
      monkeypatch.setattr(layers, 'runtime_one', lambda a: jnp.ones(a.shape, jnp.float32))  # folded by XLA
    grad = jax.jit(jax.grad(lambda y, a, w: (aggregation.aggregate_subsets(y, a) * w).sum(), argnums=1))
    return _reduces_reading_a_product(grad.lower(y, adjacency, weights).compile().as_text())

  assert not reduces(True)
  assert reduces(False)  # what XLA:CPU makes without it


def test_strided_temporal_conv_copies_read_materialised_phases(monkeypatch):
  """A strided temporal conv's phases are materialised before XLA:CPU's ``[C, T, N]`` copies for the kernel
  gradient; fused into the copy, the strided slice made it ~10x slower than copying a contiguous phase."""
  import re  # pylint: disable=g-import-not-at-top
  import types  # pylint: disable=g-import-not-at-top
  from skeljax.models import layers  # pylint: disable=g-import-not-at-top
  from skeljax.models.gcn.units import conv as gcn_units  # pylint: disable=import-outside-toplevel
  x = jax.random.normal(jax.random.key(1), (16, 20, 4, 32))
  kernel = jax.random.normal(jax.random.key(2), (9, 32, 32))

  def strided_copies(materialised):
    if not materialised:
      no_barrier = types.SimpleNamespace(unfused=lambda x, anchor: x)
      monkeypatch.setattr(gcn_units, 'layers', no_barrier)
    grads = jax.jit(jax.grad(lambda x, k: (gcn_units.temporal_conv1d(x, k, 2, (4, 4)) ** 2).sum(), argnums=(0, 1)))
    hlo = grads.lower(x, kernel).compile().as_text()
    monkeypatch.setattr(gcn_units, 'layers', layers)
    fused = dict(re.findall(r'\n%?([\w.\-]+) \([^\n]*\{\n(.*?)\n\}', hlo, re.S))
    calls = re.findall(r'%transpose[\w.]* = \S+ fusion\([^\n]*calls=%([\w.\-]+)', hlo)
    # a slice every second frame of the padded [N, T, V, C] input (the kernel's taps are sliced too: not those)
    return [c for c in calls if re.search(r'slice=\{\[0:16:1\], \[\d+:\d+:2\]', fused.get(c, ''))]

  assert not strided_copies(True)
  assert strided_copies(False)  # what XLA:CPU makes without it
