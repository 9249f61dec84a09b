"""``units.branches.run_branches``: the multi-scale units' 1x1 branch-entry convs as one matmul, same results.

The reference arithmetic of the units is checked elsewhere (test_zoo_gcn_models, test_msg3d_dgstgcn_models and
the parity tests); here the shared matmul must give what calling each branch on its own gives, in train mode
(outputs, BatchNorm statistics, gradients), and must really be one product.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from hlo_text import fused_computations
from skeljax.models.gcn.units.branches import Branch, run_branches
from skeljax.models.gcn.units.conv import TimeConv
from skeljax.models.gcn.units.dg_tcn import DGTemporalConv
from skeljax.models.gcn.units.ms_tcn import MultiScaleTemporalConv

UNITS = {
    'mstcn': lambda stride: MultiScaleTemporalConv(12, 24, stride=stride, rngs=nnx.Rngs(0)),
    'dgmstcn': lambda stride: DGTemporalConv(12, 24, stride=stride, rngs=nnx.Rngs(0)),
}


def _one_by_one(x, branches):
  return [branch(x) for branch in branches]


def _loss_and_grads(unit, x, runner):
  def loss_fn(branches, x):
    return sum(jnp.sum(jnp.sin(y) * (i + 1)) for i, y in enumerate(runner(x, branches)))

  return nnx.value_and_grad(loss_fn, argnums=(0, 1))(unit.branches, x)


@pytest.mark.parametrize('stride', [1, 2])
@pytest.mark.parametrize('name', list(UNITS))
def test_shared_entry_matmul_equals_the_branches_one_by_one(name, stride):
  x = jnp.asarray(np.random.default_rng(0).normal(size=(2, 10, 5, 12)), jnp.float32)
  unit, reference = UNITS[name](stride), UNITS[name](stride)
  for u in (unit, reference):
    u.train()
  (loss, (d_branches, d_x)) = _loss_and_grads(unit, x, run_branches)
  (ref_loss, (ref_d_branches, ref_d_x)) = _loss_and_grads(reference, x, _one_by_one)
  np.testing.assert_allclose(loss, ref_loss, rtol=1e-5)
  np.testing.assert_allclose(d_x, ref_d_x, rtol=1e-4, atol=1e-5)
  grads = dict(nnx.to_flat_state(nnx.state(d_branches, nnx.Param)))
  ref_grads = dict(nnx.to_flat_state(nnx.state(ref_d_branches, nnx.Param)))
  assert grads.keys() == ref_grads.keys() and len(grads) > 0
  for path, g in ref_grads.items():
    np.testing.assert_allclose(grads[path][...], g[...], rtol=1e-4, atol=1e-5, err_msg=str(path))
  # Train mode updates each branch's BatchNorm statistics once, as the branch would itself.
  stats = dict(nnx.to_flat_state(nnx.state(unit.branches, nnx.BatchStat)))
  ref_stats = dict(nnx.to_flat_state(nnx.state(reference.branches, nnx.BatchStat)))
  assert stats.keys() == ref_stats.keys() and len(stats) > 0
  for path, s in ref_stats.items():
    np.testing.assert_allclose(stats[path][...], s[...], rtol=1e-5, atol=1e-6, err_msg=str(path))


@pytest.mark.parametrize('stride, expected_dots', [(1, 1), (2, 2)])
def test_branch_entries_are_one_matmul(stride, expected_dots):
  """ST-GCN++'s six branches: five 1x1 entries and the '1x1' branch are one product; strided, the '1x1' branch
  (a strided conv) stays its own."""
  unit = MultiScaleTemporalConv(12, 24, stride=stride, rngs=nnx.Rngs(0))
  x = jnp.zeros((2, 10, 5, 12), jnp.float32)
  graphdef, state = nnx.split(unit.branches)
  jaxpr = jax.make_jaxpr(lambda s, x: run_branches(x, nnx.merge(graphdef, s)))(state, x)
  dots = [eqn for eqn in jaxpr.jaxpr.eqns if eqn.primitive.name == 'dot_general']
  assert len(dots) == expected_dots
  entries = [b.entry if isinstance(b, Branch) else b for b in unit.branches]
  assert all(isinstance(conv, TimeConv) for conv in entries)
  shared_width = sum(conv.out_features for conv in entries if conv.strides == (1, 1))
  assert max(int(eqn.outvars[0].aval.shape[-1]) for eqn in dots) == shared_width
  # One by one, the same branches take six products.
  jaxpr = jax.make_jaxpr(lambda s, x: _one_by_one(x, nnx.merge(graphdef, s)))(state, x)
  assert sum(eqn.primitive.name == 'dot_general' for eqn in jaxpr.jaxpr.eqns) == 6


def test_branch_conv_kernel_gradient_copies_do_not_recompute_batchnorm_relu(monkeypatch):
  """The ``[C, T, V, B]`` copies XLA:CPU makes of a branch's temporal-conv input for its kernel gradient read
  the materialised ``relu(bn(.))`` (``branches.activated``), not a recomputation of it."""
  from skeljax.models.gcn.units import ms_tcn  # pylint: disable=import-outside-toplevel

  def count(materialised):
    if not materialised:
      monkeypatch.setattr(ms_tcn, 'activated', lambda z, bn: jax.nn.relu(bn(z)))
    unit = MultiScaleTemporalConv(16, 24, stride=1, rngs=nnx.Rngs(0))
    unit.train()
    graphdef, state = nnx.split(unit)
    grads = jax.jit(jax.grad(lambda s, x: jnp.sum(jnp.sin(nnx.merge(graphdef, s)(x))), argnums=(0, 1)))
    hlo = grads.lower(state, jnp.ones((4, 20, 25, 16))).compile().as_text()
    # fusions that both transpose and apply a ReLU
    return sum(' transpose(' in body and ' maximum(' in body for body in fused_computations(hlo))

  assert count(True) == 0
  assert count(False) > 0  # what XLA does without it (one copy per conv branch here)
