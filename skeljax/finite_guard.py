"""Stopping training at the first non-finite step, without stalling the device and without saving it.

Inside the jitted step, ``step_is_finite`` says whether the loss, the gradient norm and every floating value
of the updated state are finite; when they are not, ``keep_if`` hands back the state the step was given, so
donated buffers never hold NaN or inf. On the host, ``FiniteGuard`` keeps each step's flag as a device array
and reads it one step late (after the next step is dispatched, by which time it is computed), and reads all
of them before every save: the loop stops at the step that went wrong and no checkpoint holds its values.
"""

from __future__ import annotations

import math
import pathlib
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp


class NonFiniteError(FloatingPointError):
  """Training hit a non-finite loss, gradient norm or state; the message names the step and the last good
  checkpoint."""


def all_finite(tree: Any) -> jax.Array:
  """Scalar bool: every floating-point leaf of ``tree`` is finite (other leaves are ignored)."""
  leaves = [jnp.isfinite(x).all() for x in jax.tree.leaves(tree)
            if jnp.issubdtype(x.dtype, jnp.floating) or jnp.issubdtype(x.dtype, jnp.complexfloating)]
  return jnp.logical_and.reduce(jnp.stack(leaves)) if leaves else jnp.array(True)


def step_is_finite(loss: jax.Array, grad_norm: jax.Array, new_state: Any) -> jax.Array:
  """Scalar bool: the loss, the gradient norm and the updated state are all finite."""
  # The state too: a finite gradient times an absurd learning rate can still overflow the parameters.
  return jnp.isfinite(loss) & jnp.isfinite(grad_norm) & all_finite(new_state)


def keep_if(ok: jax.Array, new: Any, old: Any) -> Any:
  """``new`` where ``ok`` else ``old``, leaf by leaf (a select, so no branch and no host round trip)."""
  return jax.tree.map(lambda n, o: jnp.where(ok, n, o), new, old)


class FiniteGuard:
  """Host side: the steps' finite flags, read late enough never to stall the device pipeline."""

  def __init__(self):
    self._unread: list[tuple[int, jax.Array, Mapping[str, jax.Array]]] = []
    self.failed_step: int | None = None
    self._failed_metrics: dict[str, float] = {}

  @property
  def failed(self) -> bool:
    """Whether a step read so far was not finite."""
    return self.failed_step is not None

  def add(self, step: int, flag: jax.Array, step_metrics: Mapping[str, jax.Array]) -> bool:
    """Records ``step``'s flag and reads those of the steps before it; True once any step was not finite."""
    self._unread.append((step, flag, step_metrics))
    self._read(len(self._unread) - 1)
    return self.failed

  def check_all(self) -> bool:
    """Reads every unread flag, the latest step's included (call before saving); True once one failed."""
    self._read(len(self._unread))
    return self.failed

  def _read(self, count: int) -> None:
    for step, flag, step_metrics in self._unread[:count]:
      if self.failed_step is None and not bool(flag):
        self.failed_step = step
        self._failed_metrics = {k: float(step_metrics[k]) for k in ('loss', 'grad_norm') if k in step_metrics}
    del self._unread[:count]

  def error(self, last_checkpoint: pathlib.Path | None) -> NonFiniteError:
    """The error to raise once training has stopped: the step, its loss and gradient norm, what to do."""
    values = ', '.join(f'{k} {v}' for k, v in self._failed_metrics.items())
    what = ('the loss or gradient norm is not finite' if not all(map(math.isfinite, self._failed_metrics.values()))
            else 'the updated parameters or optimizer state are not finite')
    message = f'training stopped at step {self.failed_step}: {what} ({values}); that step was not applied.'
    if last_checkpoint is None:
      return NonFiniteError(f'{message} No checkpoint was written before it: fix the cause (e.g. a lower '
                            '--config.optimizer.lr, or the data) and start again.')
    return NonFiniteError(f'{message} Last good checkpoint: {last_checkpoint}. Running the same command '
                          'resumes from it; fix the cause first (e.g. a lower --config.optimizer.lr, or the '
                          'data).')
