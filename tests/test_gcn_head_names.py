"""GCN checkpoints name their classifier ``cls_head.fc`` (MMAction2) or ``cls_head.fc_cls`` (PySKL): both load.

The rule on its own (``classifier_prefix``) and on the 0.x ST-GCN fixture, whose head is a 1x1 conv; the 1.x
families load either name in their parity tests (e.g. test_stgcnpp_ctrgcn_parity.py).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from skeljax.checkpoint.gcn_import import add_classifier, classifier_prefix, import_mmaction_gcn
from skeljax.checkpoint.mmaction import CheckpointMismatchError, KeyMap
from skeljax.checkpoint.torch_pickle import load_state_dict
from skeljax.models import create_model

WEIGHTS = {'backbone.data_bn.weight': np.ones(3)}


def test_classifier_prefix_accepts_either_name_and_refuses_both_or_neither():
  head = {'weight': np.zeros((4, 8)), 'bias': np.zeros(4)}
  assert classifier_prefix({**WEIGHTS, **{f'cls_head.fc.{k}': v for k, v in head.items()}}) == 'cls_head.fc'
  assert classifier_prefix({**WEIGHTS, **{f'cls_head.fc_cls.{k}': v for k, v in head.items()}}) == 'cls_head.fc_cls'
  both = {**WEIGHTS, 'cls_head.fc.weight': head['weight'], 'cls_head.fc_cls.weight': head['weight']}
  with pytest.raises(CheckpointMismatchError, match=r'x\.pth has two classifiers, cls_head\.fc\.\* .*fc_cls'):
    classifier_prefix(both, 'x.pth')
  neither = {**WEIGHTS, 'cls_head.linear.weight': head['weight'], 'cls_head.linear.bias': head['bias']}
  with pytest.raises(CheckpointMismatchError,
                     match=r"x\.pth has no classifier: .*cls_head tensors: \['cls_head\.linear'\]"):
    classifier_prefix(neither, 'x.pth')
  with pytest.raises(ValueError, match='classifier prefix must be one of'):
    add_classifier(KeyMap(), 'cls_head.linear')


def test_parity_gcn_head_rule_holds_for_0x_conv_head(parity_0x):
  """The 0.x STGCNHead's 1x1 conv, named the PySKL way, lands in the same Dense kernel."""
  state = load_state_dict(parity_0x.path('stgcn0x_ntu3d_state_dict.pth'))
  state = {k.replace('cls_head.fc.', 'cls_head.fc_cls.'): v for k, v in state.items()}
  # Every variable is overwritten by the import; rbg keys build the model ~2x faster on CPU.
  rngs = nnx.Rngs(params=jax.random.key(0, impl='rbg'), dropout=0)
  model = create_model({'name': 'stgcn', 'num_classes': 60, 'edition': '0.x'}, rngs)
  import_mmaction_gcn(model, state, '0.x')
  np.testing.assert_array_equal(model.cls_head.fc.kernel[...], state['cls_head.fc_cls.weight'][:, :, 0, 0].T)
  np.testing.assert_array_equal(model.cls_head.fc.bias[...], state['cls_head.fc_cls.bias'])
