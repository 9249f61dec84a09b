"""MS-G3D (MMAction2 ``projects/msg3d``) and DG-STGCN (PySKL) against their references' own outputs.

Fixtures: ``parity_zoo`` (its README fixes the classes, arguments, source commits and how the weights were
set). Each model is the zoo config's ``model`` block, filled from the reference ``.pth`` by
``convert_checkpoint`` (the user's path); the DG-STGCN fixture names its classifier ``cls_head.fc`` (MMAction2's
GCNHead) while PySKL's checkpoints say ``cls_head.fc_cls``, so the converter's either-name rule is exercised.
Eval mode: logits and pooled feature; train mode: logits, loss and every BN's running stats after one update;
gradients (slow): every parameter's gradient norm.
"""

from __future__ import annotations

import dataclasses
import importlib

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from conftest import assert_gradients_match_reference
from skeljax.checkpoint import convert
from skeljax.checkpoint.mmaction import CheckpointMismatchError
from skeljax.checkpoint.torch_pickle import load_state_dict
from skeljax.models.gcn import dgstgcn, graph, msg3d
from skeljax.models.gcn.units import msg3d_g3d, msg3d_gcn


@dataclasses.dataclass(frozen=True)
class Case:
  config: str  # zoo config whose model block is the reference model
  arg: str
  key_map_fn: object


CASES = {
    'msg3d': Case('msg3d_ntu60', 'xsub,joint,3d', msg3d.mmaction_key_map),
    'dgstgcn': Case('dgstgcn_ntu60', 'xsub,joint', dgstgcn.mmaction_key_map),
}


def assert_close_to_scale(got, want, what: str, rel: float = 1e-4):
  got, want = np.asarray(got), np.asarray(want)
  assert got.shape == want.shape, f'{what}: shape {got.shape} != {want.shape}'
  diff, scale = np.abs(got - want).max(), np.abs(want).max()
  assert diff <= rel * scale, f'{what}: max|diff| {diff:.3g} > {rel:g} * max|ref| ({scale:.3g})'


_LOADED: dict[str, nnx.Module] = {}


def loaded_model(parity_zoo, name: str) -> nnx.Module:
  """The zoo config's model with the reference weights imported by the converter; built once per session."""
  if name not in _LOADED:
    case = CASES[name]
    cfg = importlib.import_module(f'configs.{case.config}').get_config(case.arg)
    _LOADED[name] = convert.convert_checkpoint(cfg.model, parity_zoo.path(f'{name}_state_dict.pth'))
  return nnx.clone(_LOADED[name])


def model_input(parity_zoo, name: str) -> jax.Array:
  return jnp.asarray(parity_zoo.require(parity_zoo.npz(f'{name}_input.npz'), 'x', f'{name}_input.npz'))


@nnx.jit
def _scores_and_features(model, x):
  # One backbone pass: in eval mode GCNHead is pool -> fc (no dropout), so the classifier of the pooled feature
  # is the recognizer's output (the train-mode test runs the recognizer's own call).
  features = model.features(x)
  return model.cls_head.fc(features), features


@pytest.mark.parametrize('name', list(CASES))
def test_zoo_param_count_parity(parity_zoo, name):
  """The config's model has exactly the reference's parameters (manifest: 60 classes)."""
  model = loaded_model(parity_zoo, name)
  count = sum(int(np.prod(a.shape)) for a in jax.tree.leaves(nnx.state(model, nnx.Param)))
  assert count == parity_zoo.json('manifest.json')['models'][name]['params']['total_params']
  assert count == {'msg3d': 3_194_595, 'dgstgcn': 1_701_172}[name]  # the figures


@pytest.mark.parametrize('name', list(CASES))
def test_zoo_eval_parity(parity_zoo, name):
  model = loaded_model(parity_zoo, name)
  model.eval()
  scores, features = _scores_and_features(model, model_input(parity_zoo, name))
  ref = parity_zoo.npz(f'{name}_logits.npz')
  assert scores.shape[1] == 1
  assert_close_to_scale(scores[:, 0], parity_zoo.require(ref, 'logits'), 'eval logits')
  assert_close_to_scale(features[:, 0], parity_zoo.require(ref, 'pooled_feature'), 'pooled feature')


@pytest.mark.parametrize('name', list(CASES))
def test_zoo_train_mode_parity(parity_zoo, name):
  """Batch-statistics forward: logits, loss, and every BN's running stats after exactly one update."""
  model = loaded_model(parity_zoo, name)
  model.train()
  scores = nnx.jit(lambda m, x: m(x))(model, model_input(parity_zoo, name))[:, 0]
  ref = parity_zoo.npz(f'{name}_train_mode.npz')
  assert_close_to_scale(scores, parity_zoo.require(ref, 'logits_train_mode'), 'train-mode logits')
  labels = parity_zoo.require(ref, 'labels').reshape(-1)
  loss = optax.softmax_cross_entropy_with_integer_labels(scores, jnp.asarray(labels)).mean()
  np.testing.assert_allclose(loss, parity_zoo.require(ref, 'loss'), rtol=1e-5)

  key_map = CASES[name].key_map_fn(model, model.edition, head_prefix='cls_head.fc')
  flat = dict(nnx.to_flat_state(nnx.state(model)))
  stat_keys = [k for k in ref if k.startswith('bn_after_one_fwd/')]
  expected = {'msg3d': 234, 'dgstgcn': 192}[name]  # every running_mean / running_var (fixture README)
  assert len(stat_keys) == expected
  for key in stat_keys:
    torch_key = key[len('bn_after_one_fwd/'):]
    path, _ = key_map.params[torch_key]
    np.testing.assert_allclose(flat[path][...], ref[key], rtol=1e-4, atol=1e-5, err_msg=torch_key)


@pytest.mark.slow
@pytest.mark.parametrize('name', list(CASES))
def test_zoo_gradient_parity(parity_zoo, name):
  """Gradient of the train-mode loss: global norm and the norm of every parameter's gradient.

  Conv biases feeding a train-mode BN have an exactly-zero gradient, which both frameworks return as
  rounding noise: hence an absolute floor of 1e-6 x the global norm. DG-STGCN's ``alpha`` / ``beta`` (one
  scalar each scaling a whole dynamic graph) get their gradient as a sum of ~1e6 nearly cancelling terms, which
  float32 cannot resolve: block 0's alpha is 4.95e-5 in float64 (our model with x64), 2.70e-4 in PyTorch's
  float32 and 2.36e-4 in ours; block 1's alpha 0.020417 (float64), 0.020392 (PyTorch), 0.020501 (ours). Those
  get 1% plus a floor of 1e-5 x the global norm.
  """
  stats = parity_zoo.json(f'{name}_stats.json')['train_mode']
  labels = jnp.asarray(np.asarray(stats['labels']).reshape(-1))
  model = loaded_model(parity_zoo, name)
  model.train()
  x = model_input(parity_zoo, name)
  key_map = CASES[name].key_map_fn(model, model.edition, head_prefix='cls_head.fc')

  def loss_fn(m):
    scores = m(x)[:, 0]
    return optax.softmax_cross_entropy_with_integer_labels(scores, labels).mean()

  loss, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model)
  np.testing.assert_allclose(loss, stats['loss'], rtol=1e-5)
  flat = {path: np.asarray(g[...]) for path, g in nnx.to_flat_state(grads)}

  def tolerance(torch_key):
    mixing_weight = torch_key.endswith(('.gcn.alpha', '.gcn.beta'))
    return (1e-2, 1e-5) if mixing_weight else (2e-3, 1e-6)

  assert_gradients_match_reference(flat, stats, lambda key: key_map.params[key][0], tolerance)


def test_msg3d_graphs_parity(parity_zoo):
  """binary_adj, the 13 k-hop scales and the 3- / 5-frame window graphs equal the reference's buffers."""
  state = load_state_dict(parity_zoo.path('msg3d_state_dict.pth'))
  adjacency = graph.build_adjacency('nturgb+d', 'binary_adj')
  np.testing.assert_array_equal(adjacency[0], state['backbone.A'])  # no self links
  for stage in (1, 2, 3):
    np.testing.assert_allclose(msg3d_gcn.multiscale_adjacency(adjacency[0], 13), state[f'backbone.sgcn{stage}.0.A'],
                               atol=1e-7)
    for i, window in enumerate((3, 5)):
      expected = state[f'backbone.gcn3d{stage}.gcn3d.{i}.gcn3d.1.A']
      got = msg3d_gcn.multiscale_adjacency(msg3d_g3d.window_graph(adjacency[0], window), 6)
      np.testing.assert_allclose(got, expected, atol=1e-7, err_msg=f'stage {stage} window {window}')


def test_zoo_checkpoint_mismatches_are_listed_parity(parity_zoo):
  """A changed fixed graph, a mis-shaped, an unknown and a missing key are all named in one error."""
  model = loaded_model(parity_zoo, 'msg3d')
  state = dict(load_state_dict(parity_zoo.path('msg3d_state_dict.pth')))
  state['backbone.sgcn2.0.A'] = state['backbone.sgcn2.0.A'] * 2
  state['backbone.tcn1.branches.0.0.weight'] = state['backbone.tcn1.branches.0.0.weight'][:8]
  state['backbone.extra.weight'] = np.zeros(3, np.float32)
  del state['backbone.gcn3d2.gcn3d.1.out_bn.bias']
  with pytest.raises(CheckpointMismatchError) as error:
    msg3d.import_mmaction_msg3d(model, state, source='msg3d.pth')
  message = str(error.value)
  assert message.startswith('msg3d.pth does not match')
  assert 'backbone.sgcn2.0.A: checkpoint buffer differs' in message
  assert 'backbone.tcn1.branches.0.0.weight: checkpoint shape (8, 96, 1, 1)' in message
  assert 'unknown keys (1): backbone.extra.weight' in message
  assert 'missing keys (1): backbone.gcn3d2.gcn3d.1.out_bn.bias' in message


def test_zoo_either_classifier_name_parity(parity_zoo):
  """PySKL's ``cls_head.fc_cls`` and MMAction2's ``cls_head.fc`` load the same classifier, for both families."""
  for name, importer in (('dgstgcn', dgstgcn.import_pyskl_dgstgcn), ('msg3d', msg3d.import_mmaction_msg3d)):
    state = dict(load_state_dict(parity_zoo.path(f'{name}_state_dict.pth')))
    renamed = {k.replace('cls_head.fc.', 'cls_head.fc_cls.'): v for k, v in state.items()}
    model = loaded_model(parity_zoo, name)
    importer(model, {'state_dict': renamed}, edition='pyskl')
    np.testing.assert_array_equal(model.cls_head.fc.kernel[...], state['cls_head.fc.weight'].T)
    with pytest.raises(CheckpointMismatchError, match='two classifiers'):
      importer(model, {**state, 'cls_head.fc_cls.weight': state['cls_head.fc.weight']})


@pytest.mark.parametrize('name', list(CASES))
def test_zoo_key_map_fills_every_param_and_batch_stat_once_parity(parity_zoo, name):
  model = loaded_model(parity_zoo, name)
  key_map = CASES[name].key_map_fn(model, model.edition)
  targets = [path for path, _ in key_map.params.values()]
  assert len(targets) == len(set(targets))
  state_paths = {p for p, _ in nnx.to_flat_state(nnx.state(model, nnx.Any(nnx.Param, nnx.BatchStat)))}
  assert set(targets) == state_paths
  keys = parity_zoo.json('manifest.json')['models'][name]['state_dict_keys']
  keys = [k if isinstance(k, str) else k[0] for k in keys]
  mapped = set(key_map.params) | set(key_map.checks)
  head = {'cls_head.fc_cls.weight': 'cls_head.fc.weight', 'cls_head.fc_cls.bias': 'cls_head.fc.bias'}
  mapped = {head.get(k, k) for k in mapped}
  assert mapped == {k for k in keys if not k.endswith('num_batches_tracked')}
