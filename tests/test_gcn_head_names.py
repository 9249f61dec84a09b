"""GCN checkpoints name their classifier ``cls_head.fc`` (MMAction2) or ``cls_head.fc_cls`` (PySKL): both load.

Exercised on the ST-GCN fixtures of both MMAction2 editions (no forward pass: only where tensors land).
"""

from __future__ import annotations

import jax
import numpy as np
import pytest
from flax import nnx

from skeljax.checkpoint.gcn_import import classifier_prefix, import_mmaction_gcn
from skeljax.checkpoint.mmaction import CheckpointMismatchError
from skeljax.checkpoint.torch_pickle import load_state_dict
from skeljax.models import create_model


def _rngs() -> nnx.Rngs:
  # Every variable is overwritten by the import; rbg keys build the model ~2x faster on CPU.
  return nnx.Rngs(params=jax.random.key(0, impl='rbg'), dropout=0)


def _renamed(state: dict, old: str, new: str) -> dict:
  return {(new + k[len(old):] if k.startswith(old + '.') else k): v for k, v in state.items()}


@pytest.mark.parametrize('edition', ['1.x', 'pyskl'])
def test_parity_gcn_head_either_name_loads_in_any_edition(parity_1x, edition):
  state = load_state_dict(parity_1x.path('stgcn_state_dict.pth'))
  for head in ('cls_head.fc', 'cls_head.fc_cls'):
    model = create_model({'name': 'stgcn', 'num_classes': 60}, _rngs())
    named = _renamed(state, 'cls_head.fc', head)
    assert classifier_prefix(named) == head
    import_mmaction_gcn(model, named, edition)
    np.testing.assert_array_equal(model.cls_head.fc.kernel[...], state['cls_head.fc.weight'].T)
    np.testing.assert_array_equal(model.cls_head.fc.bias[...], state['cls_head.fc.bias'])


def test_parity_gcn_head_rule_holds_for_0x_conv_head(parity_0x):
  """The 0.x STGCNHead's 1x1 conv, named the PySKL way, lands in the same Dense kernel."""
  state = _renamed(load_state_dict(parity_0x.path('stgcn0x_ntu3d_state_dict.pth')), 'cls_head.fc',
                   'cls_head.fc_cls')
  model = create_model({'name': 'stgcn', 'num_classes': 60, 'edition': '0.x'}, _rngs())
  import_mmaction_gcn(model, state, '0.x')
  np.testing.assert_array_equal(model.cls_head.fc.kernel[...], state['cls_head.fc_cls.weight'][:, :, 0, 0].T)


def test_parity_gcn_head_both_or_neither_is_a_clear_error(parity_1x):
  state = load_state_dict(parity_1x.path('stgcn_state_dict.pth'))
  model = create_model({'name': 'stgcn', 'num_classes': 60}, _rngs())
  both = {**state, 'cls_head.fc_cls.weight': state['cls_head.fc.weight'],
          'cls_head.fc_cls.bias': state['cls_head.fc.bias']}
  with pytest.raises(CheckpointMismatchError, match=r'x\.pth has two classifiers, cls_head\.fc\.\* .*fc_cls'):
    import_mmaction_gcn(model, both, '1.x', source='x.pth')
  neither = _renamed(state, 'cls_head.fc', 'cls_head.linear')
  with pytest.raises(CheckpointMismatchError,
                     match=r"x\.pth has no classifier: .*cls_head tensors: \['cls_head\.linear'\]"):
    import_mmaction_gcn(model, neither, '1.x', source='x.pth')
