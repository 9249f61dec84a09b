"""CTR-GCN's channel-first training ops (``units.channel_graph``): the values and gradients of the channel-last
einsums they replace, op by op and in the unit."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from skeljax.models.gcn.units import channel_graph
from skeljax.models.gcn.units.ctrgcn_unit import CTRGCNUnit


def _values_and_grads(fn, *args):
  weights = jax.random.normal(jax.random.key(9), jax.eval_shape(fn, *args).shape)
  return jax.jit(jax.value_and_grad(lambda *a: (fn(*a) * weights).sum(), argnums=tuple(range(len(args)))))(*args)


def _assert_close(got, want, rtol=1e-5):
  for g, w in zip(jax.tree.leaves(got), jax.tree.leaves(want), strict=True):
    np.testing.assert_allclose(np.asarray(g), np.asarray(w), rtol=rtol, atol=rtol * float(np.abs(w).max()))


def test_pointwise_channel_first_is_the_transposed_1x1_conv():
  x = jax.random.normal(jax.random.key(0), (3, 40, 6))
  kernel = jax.random.normal(jax.random.key(1), (6, 10))
  _assert_close(_values_and_grads(channel_graph.pointwise_channel_first, x, kernel),
                _values_and_grads(lambda x, k: jnp.einsum('bni,io->bon', x, k), x, kernel))


def test_aggregate_per_channel_is_the_per_channel_graph_einsum():
  x = jax.random.normal(jax.random.key(0), (3, 8, 12, 25))
  graph = jax.random.normal(jax.random.key(1), (3, 8, 25, 25))
  _assert_close(_values_and_grads(channel_graph.aggregate_per_channel, x, graph),
                _values_and_grads(lambda x, g: jnp.einsum('bctu,bcuv->bctv', x, g), x, graph))


@pytest.mark.parametrize('c_in, c_out', [(3, 16), (16, 16), (16, 32)])
def test_unit_trains_with_the_values_and_gradients_of_the_channel_last_form(c_in, c_out, monkeypatch):
  """The training path (channel-first, subsets summed there) against the eval path's einsum run on batch
  statistics: output, BatchNorm statistics, every parameter's and the input's gradient."""
  adjacency = np.random.default_rng(0).random((3, 25, 25)).astype(np.float32)
  unit = CTRGCNUnit(c_in, c_out, adjacency, rngs=nnx.Rngs(0))
  unit.alpha[...] = jnp.full((1,), 0.7)  # the refinement contributes (it starts at 0)
  x = jax.random.normal(jax.random.key(1), (4, 12, 25, c_in))

  def run():
    graphdef, params, rest = nnx.split(unit, nnx.Param, ...)

    def loss(params, x):
      model = nnx.merge(graphdef, params, rest, copy=True)
      y = model(x)
      return (y * jnp.cos(y)).sum(), nnx.state(model, nnx.BatchStat)

    return jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(params, x)

  channel_first = run()
  monkeypatch.setattr(CTRGCNUnit, '__call__', _channel_last_call)
  channel_last = run()
  _assert_close(channel_first, channel_last, rtol=2e-5)


def _channel_last_call(self, x):
  adjacency, alpha = self.A[...].astype(x.dtype), self.alpha[...][0].astype(x.dtype)
  y = sum(conv(x, adjacency[k], alpha) for k, conv in enumerate(self.convs))
  residual = self.down(x) if self.down is not None else x
  return jax.nn.relu(self.bn(y) + residual)


def test_unit_training_step_stays_in_bfloat16():
  adjacency = np.random.default_rng(0).random((3, 25, 25)).astype(np.float32)

  def run():
    unit = CTRGCNUnit(16, 16, adjacency, rngs=nnx.Rngs(0))
    nnx.update(unit, jax.tree.map(lambda p: p.astype(jnp.bfloat16), nnx.state(unit, nnx.Param)))
    return unit(jnp.zeros((2, 12, 25, 16), jnp.bfloat16))

  y = nnx.eval_shape(run)
  assert y.dtype == jnp.bfloat16 and y.shape == (2, 12, 25, 16)
