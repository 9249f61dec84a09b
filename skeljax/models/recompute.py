"""Activation recomputation, MMAction2's ``with_cp``: a block's backward pass reruns the block's forward pass
instead of keeping its activations, trading compute for memory.

Why not ``jax.checkpoint`` (``nnx.remat``): on XLA:CPU it saves nothing. The optimised module has none of the
optimisation barriers left, and the recomputation, a function of the block's inputs only, is merged back into the
forward pass (AAGCN's train-step temporaries at batch 8: 1458 MB without, 1556 MB with every block
rematerialised, measured; a barrier on inputs and cotangent together did no better). Here the recomputed forward
pass reads its input through a term of the block's output cotangent (``x + 0 * dy[0]``), which XLA can neither
fold (``0 * y`` is not 0 for every float) nor compute before the backward pass reaches the block.

Two granularities: ``call_recomputed`` reruns a whole module (``with_cp``; by default also PoseC3D's downsample
conv + BN); ``recompute_in_backward`` reruns a pure function whose intermediates are large and cheap to make
again (the (A)AGCN unit's ``conv_d`` outputs and attention embeddings).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from flax import nnx


def _tied(x: jax.Array, dy: jax.Array) -> jax.Array:
  """``x`` read through the cotangent ``dy`` (``x + 0 * dy[0]``): a recomputation from it waits for the backward
  pass (docstring above)."""
  return x + (dy.reshape(-1)[0] * 0).astype(x.dtype)


def _zero_cotangent(leaf):
  """The cotangent of a state leaf that is not differentiated: zeros, float0 for integer and key arrays."""
  dtype = getattr(leaf, 'dtype', None)
  if dtype is not None and jnp.issubdtype(dtype, jnp.inexact):
    return jnp.zeros_like(leaf)
  return np.zeros(np.shape(leaf), jax.dtypes.float0)


def call_recomputed(module: nnx.Module, x: jax.Array) -> jax.Array:
  """``module(x)`` whose backward pass recomputes the module's forward pass from ``x`` and its parameters.

  Same values and gradients as ``module(x)``; the backward pass holds one block's activations at a time. State
  the call updates (BatchNorm running statistics, RNG counters) is updated once, by the forward pass; the
  recomputation starts from the state before the call, so dropout draws the same masks. A non-finite first
  element of the output cotangent makes this block's gradients NaN (they would not be finite anyway).
  """
  graphdef, params, rest = nnx.split(module, nnx.Param, ...)
  # Plain array leaves in and out of the custom VJP. The state's leaves go through an optimisation barrier:
  # under jit + grad, a concrete leaf (``nnx.reseed`` writes the dropout counter as a constant) reached the
  # forward rule already incremented, so forward and recomputation drew the next masks (seen in the tests);
  # as traced values they arrive as they are.
  params_leaves, params_def = jax.tree.flatten(params)
  rest_leaves, rest_def = jax.tree.flatten(rest)
  rest_leaves = jax.lax.optimization_barrier(rest_leaves)

  def apply(params_leaves, rest_leaves, x):
    block = nnx.merge(graphdef, jax.tree.unflatten(params_def, params_leaves),
                      jax.tree.unflatten(rest_def, rest_leaves), copy=True)
    y = block(x)
    return y, jax.tree.leaves(nnx.state(block, nnx.Not(nnx.Param)))

  @jax.custom_vjp
  def run(params_leaves, rest_leaves, x):
    return apply(params_leaves, rest_leaves, x)

  def run_fwd(params_leaves, rest_leaves, x):
    return apply(params_leaves, rest_leaves, x), (params_leaves, rest_leaves, x)

  def run_bwd(saved, cotangents):
    dy, _ = cotangents  # the updated state is not differentiated
    params_leaves, rest_leaves, x = saved
    x = _tied(x, dy)
    # The state goes in as an argument: a module merged from closed-over state could not update it here.
    _, pullback = jax.vjp(lambda p, r, inp: apply(p, r, inp)[0], params_leaves, rest_leaves, x)
    d_params, _, d_x = pullback(dy)
    return d_params, [_zero_cotangent(leaf) for leaf in rest_leaves], d_x

  run.defvjp(run_fwd, run_bwd)
  y, new_rest_leaves = run(params_leaves, rest_leaves, x)
  nnx.update(module, jax.tree.unflatten(rest_def, new_rest_leaves))
  return y


def recompute_in_backward(fn, tied: tuple[int, ...]):
  """``fn(*args)`` (a pure function of arrays) whose backward pass recomputes ``fn``'s intermediates from ``args``.

  Same values and gradients as ``fn``; what the backward pass needs of ``fn`` is made again when it reaches the
  call instead of being kept from the forward pass. ``tied``: the positions of the arguments that carry the tie
  to the cotangent (docstring above); every intermediate worth recomputing must depend on one of them, and small
  ones (weights, graphs) make the tie cheap: an activation would be copied.
  """

  @jax.custom_vjp
  def run(*args):
    return fn(*args)

  def run_fwd(*args):
    return fn(*args), args

  def run_bwd(args, dy):
    args = [_tied(a, dy) if i in tied else a for i, a in enumerate(args)]
    _, pullback = jax.vjp(fn, *args)
    return pullback(dy)

  run.defvjp(run_fwd, run_bwd)
  return run
