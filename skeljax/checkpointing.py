"""Orbax checkpoints at ``<workdir>/checkpoints/<step>/{model,opt_state,data_iter,meta}``.

- ``model``: the model's variables as a pure nested dict (``nnx.State.to_pure_dict``) of parameters, BatchNorm
  statistics and buffers; RNG streams are left out because the train step reseeds dropout from
  ``fold_in(seed, step)``. The converter of MMAction2 checkpoints writes step 0 with only ``model`` and
  ``meta`` in this layout (``save_model_checkpoint``), and evaluation restores only ``model``.
- ``opt_state``: the optax state; ``data_iter``: grain iterator state (one JSON per process);
  ``meta``: JSON with ``step``, ``epoch`` and the config.
Preservation: the latest ``keep_latest`` steps plus the ``keep_best`` steps with the highest validation top-1.
"""

from __future__ import annotations

import logging
import pathlib
from collections.abc import Mapping
from typing import Any

import jax
import numpy as np
import orbax.checkpoint as ocp
from orbax.checkpoint.checkpoint_managers import preservation_policy as preservation_lib

BEST_METRIC = 'top1'
KEYWORDS = ('best', 'latest')  # --checkpoint values that name a step of the workdir


class CheckpointSaveError(RuntimeError):
  """Writing a checkpoint failed; the steps written before it are intact and ``resume`` picks the latest."""


def checkpoint_dir(workdir: str | pathlib.Path) -> pathlib.Path:
  """Where a run's checkpoints live."""
  return pathlib.Path(workdir).absolute() / 'checkpoints'


def _drop_missing_metric_warning(record: logging.LogRecord) -> bool:
  # Periodic saves carry no metrics on purpose (they are not evaluated); orbax warns about each one.
  return 'did not provide metrics' not in record.getMessage()


def create_manager(workdir: str | pathlib.Path, cfg: Mapping | None = None) -> ocp.CheckpointManager:
  """A CheckpointManager keeping the latest and the best-by-top-1 checkpoints (``cfg.checkpoint`` block)."""
  absl_logger = logging.getLogger('absl')
  if _drop_missing_metric_warning not in absl_logger.filters:
    absl_logger.addFilter(_drop_missing_metric_warning)
  cfg = dict(cfg or {})
  policies = [preservation_lib.LatestN(n=int(cfg.get('keep_latest', 1)))]
  if cfg.get('keep_best', 1):
    policies.append(preservation_lib.BestN(get_metric_fn=lambda m: m[BEST_METRIC], reverse=False,
                                           n=int(cfg.get('keep_best', 1)),
                                           keep_checkpoints_without_metrics=False))
  options = ocp.CheckpointManagerOptions(
      # best_fn also makes orbax write each step's metrics to disk, so "best" survives a restart.
      best_fn=lambda m: m[BEST_METRIC], best_mode='max',
      preservation_policy=preservation_lib.AnyPreservationPolicy(policies),
      enable_async_checkpointing=bool(cfg.get('async', True)),
      cleanup_tmp_directories=True)
  return ocp.CheckpointManager(checkpoint_dir(workdir), options=options)


def save(manager: ocp.CheckpointManager, step: int, *, model: Mapping, opt_state: Any = None,
         data_iter: Any = None, meta: Mapping | None = None, metrics: Mapping | None = None,
         force: bool = True) -> bool:
  """Saves the items that are given (``model`` is a pure dict of arrays); async unless disabled."""
  items = {'model': ocp.args.StandardSave(model)}
  if opt_state is not None:
    items['opt_state'] = ocp.args.StandardSave(opt_state)
  if data_iter is not None:
    import grain  # pylint: disable=g-import-not-at-top
    items['data_iter'] = grain.checkpoint.CheckpointSave(data_iter)
  items['meta'] = ocp.args.JsonSave(dict(meta or {}, step=int(step)))
  wait_until_finished(manager)  # orbax waits for the previous save anyway; this names its failure as such
  try:
    return manager.save(int(step), args=ocp.args.Composite(**items),
                        metrics=dict(metrics) if metrics else None, force=force)
  except Exception as e:  # noqa: BLE001 - whatever the writer raised (a full disk, a lost mount...)
    raise CheckpointSaveError(f'saving checkpoint step {step} failed ({type(e).__name__}: {e}); '
                              f'{_intact(manager)}') from e


def wait_until_finished(manager: ocp.CheckpointManager) -> None:
  """Waits for an asynchronous save; raises ``CheckpointSaveError`` if it failed in the background."""
  try:
    manager.wait_until_finished()
  except Exception as e:  # noqa: BLE001
    raise CheckpointSaveError(f'an asynchronous checkpoint save failed in the background ({type(e).__name__}: '
                              f'{e}); {_intact(manager)}') from e


def _intact(manager: ocp.CheckpointManager) -> str:
  # Orbax writes a step into a temporary folder and renames it only once every item is complete, so what is
  # left of a failed save is never taken for a checkpoint.
  directory = pathlib.Path(manager.directory)
  done = sorted(int(p.name) for p in directory.iterdir() if p.name.isdigit()) if directory.is_dir() else []
  latest = f'step {done[-1]}, which a restart resumes from' if done else 'none'
  return f'the checkpoints written before it in {directory} are intact (latest: {latest})'


def restore(manager: ocp.CheckpointManager, step: int, *, model: Any, opt_state: Any = None,
            data_iter: Any = None) -> ocp.args.Composite:
  """Restores a training checkpoint onto abstract targets (``jax.ShapeDtypeStruct`` with shardings).

  ``data_iter`` (a grain iterator) is updated in place.
  """
  items = {'model': ocp.args.StandardRestore(model), 'meta': ocp.args.JsonRestore()}
  if opt_state is not None:
    items['opt_state'] = ocp.args.StandardRestore(opt_state)
  if data_iter is not None:
    import grain  # pylint: disable=g-import-not-at-top
    items['data_iter'] = grain.checkpoint.CheckpointRestore(data_iter)
  return manager.restore(int(step), args=ocp.args.Composite(**items))


def save_model_checkpoint(directory: str | pathlib.Path, model_state: Mapping, *, step: int = 0,
                          meta: Mapping | None = None) -> pathlib.Path:
  """Writes a ``model`` + ``meta`` checkpoint (e.g. a converted MMAction2 model) that evaluation can load.

  A NaN or inf anywhere in ``model_state`` is refused, naming the variable (no checkpoint holds one).

  ``directory`` is the ``checkpoints`` folder (or a workdir, which gets ``checkpoints/`` appended).
  """
  for path, value in jax.tree_util.tree_leaves_with_path(model_state):
    value = np.asarray(value)
    if np.issubdtype(value.dtype, np.inexact) and not np.isfinite(value).all():
      raise ValueError(f'refusing to write a checkpoint in {directory}: {jax.tree_util.keystr(path)} holds '
                       f'{int((~np.isfinite(value)).sum())} non-finite values')
  directory = pathlib.Path(directory).absolute()
  if directory.name != 'checkpoints':
    directory = directory / 'checkpoints'
  with ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(
      enable_async_checkpointing=False)) as manager:
    save(manager, step, model=model_state, meta=meta)
    manager.wait_until_finished()
  return directory / str(step)


def resolve_step_dir(path: str | pathlib.Path, step: int | str | None = None, *,
                     prefer: str = 'best') -> pathlib.Path:
  """The ``<checkpoints>/<step>`` folder for a workdir, a ``checkpoints`` folder or a step folder.

  ``step``: a step number, ``'best'`` (highest validation top-1; an error if no step has one) or
  ``'latest'``. Without ``step``, the best step by top-1 (``prefer='best'``, else the latest) or the latest
  one (``prefer='latest'``).
  """
  path = pathlib.Path(path).absolute()
  if (path / 'model').is_dir():
    return path
  if (path / 'checkpoints').is_dir():
    path = path / 'checkpoints'
  if not path.is_dir():
    raise FileNotFoundError(f'no checkpoint found at {path}')
  steps = sorted(int(p.name) for p in path.iterdir() if p.name.isdigit() and (p / 'model').is_dir())
  if not steps:
    raise FileNotFoundError(f'no checkpoint steps (folders with a model/ item) in {path}')
  if step == 'latest':
    return path / str(steps[-1])
  if step is not None and step != 'best':
    if not str(step).isdigit() or int(step) not in steps:
      raise FileNotFoundError(f'checkpoint step {step} not in {path}; available: {steps}')
    return path / str(int(step))
  if step == 'best' or prefer == 'best':
    scored = [(s, _read_metric(path / str(s))) for s in steps]
    scored = [(m, s) for s, m in scored if m is not None]
    if scored:
      return path / str(max(scored)[1])
    if step == 'best':
      raise FileNotFoundError(f'no checkpoint in {path} has a validation {BEST_METRIC} to pick the best by '
                              f'(steps: {steps}); pass --checkpoint=latest or a step number')
  return path / str(steps[-1])


def resolve_checkpoint(checkpoint: str | int | None, workdir: str | pathlib.Path | None) -> pathlib.Path:
  """The step folder a ``--checkpoint`` value names: a step number of ``workdir``, ``'best'`` or
  ``'latest'`` of ``workdir``, a folder (workdir, ``checkpoints`` or step folder), or None (best, else
  latest, in ``workdir``)."""
  in_workdir = checkpoint is None or str(checkpoint) in KEYWORDS or str(checkpoint).isdigit()
  if not in_workdir:
    return resolve_step_dir(checkpoint, prefer='best')
  if workdir is None:
    what = 'a checkpoint' if checkpoint is None else f'--checkpoint={checkpoint}'
    raise FileNotFoundError(f'{what} is looked up in the run folder: give --workdir (or a checkpoint folder)')
  return resolve_step_dir(workdir, None if checkpoint is None else str(checkpoint), prefer='best')


def _read_metric(step_dir: pathlib.Path) -> float | None:
  import json  # pylint: disable=g-import-not-at-top
  metrics_file = step_dir / 'metrics' / 'metrics'
  try:
    return float(json.loads(metrics_file.read_text())[BEST_METRIC])
  except (OSError, ValueError, KeyError, TypeError):
    return None


def load_model_state(step_dir: str | pathlib.Path) -> dict:
  """The ``model`` item of a checkpoint step folder as a nested dict of numpy arrays (no target needed)."""
  model_dir = pathlib.Path(step_dir) / 'model'
  if not model_dir.is_dir():
    raise FileNotFoundError(f'checkpoint {step_dir} has no model item')
  checkpointer = ocp.PyTreeCheckpointer()
  tree = checkpointer.metadata(model_dir).item_metadata.tree
  restore_args = jax.tree.map(lambda _: ocp.RestoreArgs(restore_type=np.ndarray), tree)
  return checkpointer.restore(model_dir, args=ocp.args.PyTreeRestore(restore_args=restore_args))


def load_meta(step_dir: str | pathlib.Path) -> dict:
  """The ``meta`` JSON of a checkpoint step folder ({} when absent)."""
  import json  # pylint: disable=g-import-not-at-top
  meta_file = pathlib.Path(step_dir) / 'meta' / 'metadata'
  if not meta_file.is_file():
    logging.warning('checkpoint %s has no meta item', step_dir)
    return {}
  return json.loads(meta_file.read_text())
