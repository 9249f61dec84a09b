"""PoseC3D against MMAction2 1.2.0's own outputs (``posec3d_*`` fixtures: SlowOnly-R50 (4,6,3), NTU60 head).

The fixture input is MMAction2's ``(N, clips, K, T, H, W)``; it is moved to channel-last only here, at the
test boundary. Bounds: max|diff| <= 1e-4 * max|reference| (float32, different summation order).
"""

import jax.numpy as jnp
import numpy as np
import optax
import pytest
from flax import nnx

from skeljax.checkpoint import convert
from skeljax.models.posec3d import PoseC3DRecognizer, mmaction_key_map


@pytest.fixture(scope='module')
def fixture(parity_1x):
  x = parity_1x.require(parity_1x.npz('posec3d_input.npz'), 'x', 'posec3d_input.npz')
  assert x.shape == (4, 1, 17, 48, 56, 56)
  return parity_1x.path('posec3d_state_dict.pth'), np.transpose(x, (0, 1, 3, 4, 5, 2))  # -> [N, clips, T, H, W, K]


def _imported(pth, dropout=0.5):
  # Through the public converter (config block + .pth -> model), so parity covers what users run.
  model = convert.convert_checkpoint({'name': 'posec3d', 'num_classes': 60, 'dropout': dropout}, pth, '1.x')
  assert isinstance(model, PoseC3DRecognizer)
  return model


def _assert_close(ours, ref, name):
  bound = 1e-4 * np.abs(ref).max()
  diff = np.abs(np.asarray(ours) - ref).max()
  assert diff <= bound, f'{name}: max|diff| {diff:.3g} > {bound:.3g}'


def test_posec3d_eval_logits_and_features_parity(parity_1x, fixture):
  pth, x = fixture
  ref = parity_1x.npz('posec3d_logits.npz')
  model = _imported(pth)
  model.eval()

  @nnx.jit
  def forward(model, x):
    features = model.features(x)
    return features, model.classify_features(features)

  features, logits = forward(model, jnp.asarray(x))
  _assert_close(logits[:, 0], parity_1x.require(ref, 'logits', 'posec3d_logits.npz'), 'logits')
  _assert_close(features[:, 0], parity_1x.require(ref, 'pooled_feature', 'posec3d_logits.npz'), 'pooled_feature')


def test_posec3d_train_mode_logits_and_bn_stats_parity(parity_1x, fixture):
  pth, x = fixture
  ref = parity_1x.npz('posec3d_train_mode.npz')
  model = _imported(pth, dropout=0.0)  # the reference set the head's dropout p to 0 for this forward
  key_map = mmaction_key_map(model)
  model.train()
  logits = nnx.jit(lambda m, x: m(x))(model, jnp.asarray(x))
  _assert_close(logits[:, 0], parity_1x.require(ref, 'logits_train_mode', 'posec3d_train_mode.npz'),
                'train-mode logits')
  flat = dict(nnx.to_flat_state(nnx.state(model)))
  bn_keys = [k for k in ref if k.startswith('bn_after_one_fwd/')]
  assert len(bn_keys) == 2 * 43  # running mean/var of every BN in the (4,6,3) backbone
  for name in bn_keys:
    key = name.split('/', 1)[1]
    ours = np.asarray(flat[key_map.params[key][0]][...])
    np.testing.assert_allclose(ours, ref[name], rtol=1e-5, atol=1e-5 * np.abs(ref[name]).max(), err_msg=key)


@pytest.mark.slow
def test_posec3d_train_mode_loss_and_grad_norms_parity(parity_1x, fixture):
  """One train-mode backward (about 30 s on 2 CPU cores): CE loss and every parameter's gradient L2 norm."""
  pth, x = fixture
  ref = parity_1x.npz('posec3d_train_mode.npz')
  stats = parity_1x.json('posec3d_stats.json')['train_mode']
  model = _imported(pth, dropout=0.0)
  key_map = mmaction_key_map(model)
  model.train()
  labels = jnp.asarray(parity_1x.require(ref, 'labels', 'posec3d_train_mode.npz'))

  def loss_fn(model, x):
    return optax.softmax_cross_entropy_with_integer_labels(model(x)[:, 0], labels).mean()

  loss, grads = nnx.jit(nnx.value_and_grad(loss_fn))(model, jnp.asarray(x))
  np.testing.assert_allclose(float(loss), float(ref['loss']), rtol=1e-5)
  flat = dict(nnx.to_flat_state(grads))
  norms = {key: float(np.linalg.norm(np.asarray(flat[key_map.params[key][0]][...])))
           for key in stats['grad_norms']}
  assert len(norms) == 131
  np.testing.assert_allclose(np.sqrt(sum(n * n for n in norms.values())), stats['grad_global_norm'], rtol=1e-4)
  for key, expected in stats['grad_norms'].items():
    # Early BN gradients sum ~600k float32 terms with cancellation; 0.3% differences are summation order.
    np.testing.assert_allclose(norms[key], expected, rtol=1e-2, err_msg=key)
