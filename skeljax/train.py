"""Training: an explicit state pytree, pure sharded train / eval steps, and the ``train_and_evaluate`` loop.

The state is ``TrainState(step, params, batch_stats, opt_state, rng)`` from ``nnx.split``: ``params`` are the
``nnx.Param`` variables, ``batch_stats`` everything else the model carries (BatchNorm running statistics,
fixed buffers, RNG streams). Steps run under ``jax.jit`` on a 1-D ``('data',)`` mesh: batch split over devices,
state replicated, state buffers donated. BatchNorm therefore normalises with global-batch statistics (SyncBN);
see ``skeljax/sharding.py``.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import pathlib
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

import flax
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import optax
from flax import nnx

from skeljax import checkpointing, finite_guard, logging_utils, losses, metrics, optim, runtime, sharding
from skeljax.models import create_model
from skeljax.models.layers import average_clips

COMPUTE_DTYPES = {'float32': jnp.float32, 'bfloat16': jnp.bfloat16}


@flax.struct.dataclass
class TrainState:
  """Everything that changes during training, as one pytree."""
  step: jax.Array        # int32 scalar: optimizer steps taken
  params: nnx.State      # nnx.Param variables (float32 master weights)
  batch_stats: nnx.State  # every other model variable: BatchNorm statistics, buffers, RNG streams
  opt_state: optax.OptState
  rng: jax.Array         # dropout root key; the step folds in the step number


@flax.struct.dataclass
class StepConfig:
  """Static pieces a step needs besides the state (closed over before jit)."""
  graphdef: Any = flax.struct.field(pytree_node=False)
  tx: optax.GradientTransformation = flax.struct.field(pytree_node=False)
  loss_fn: Callable = flax.struct.field(pytree_node=False)
  learning_rate_fn: Callable = flax.struct.field(pytree_node=False)
  compute_dtype: Any = flax.struct.field(pytree_node=False, default=jnp.float32)
  inputs_fn: Callable = flax.struct.field(pytree_node=False, default=None)
  average_clips: str | None = flax.struct.field(pytree_node=False, default='prob')


# ---------------------------------------------------------------------------------------------------------------
# Model inputs (device side).


def gcn_inputs(batch: Mapping[str, jax.Array]) -> jax.Array:
  """Model input of a packed GCN batch: ``inputs [N, clips, M, T, V, C]``."""
  return batch['inputs']


def make_heatmap_inputs_fn(hm_cfg: Mapping) -> Callable[[Mapping[str, jax.Array]], jax.Array]:
  """PoseC3D input: heatmap volumes ``[N, clips, T, H, W, K]`` rendered inside the jitted step from
  ``keypoint [N, clips, M, T, V, 2]`` / ``keypoint_score``; a batch that already has ``inputs`` (host-rendered
  val/test volumes) is passed through."""
  from skeljax.data import heatmap_jax  # pylint: disable=g-import-not-at-top
  hm_cfg = dict(hm_cfg.to_dict() if hasattr(hm_cfg, 'to_dict') else hm_cfg)

  def inputs_fn(batch):
    if 'inputs' in batch:
      return batch['inputs']
    return heatmap_jax.generate_pose_target(batch['keypoint'], batch.get('keypoint_score'),
                                            person_valid=batch.get('person_valid'), **hm_cfg)

  return inputs_fn


def _cast_floats(tree: Any, dtype) -> Any:
  return jax.tree.map(lambda x: x.astype(dtype) if jnp.issubdtype(x.dtype, jnp.floating) else x, tree)


# ---------------------------------------------------------------------------------------------------------------
# Steps (pure).


def train_step(state: TrainState, batch: Mapping[str, jax.Array], *, cfg: StepConfig
               ) -> tuple[TrainState, dict[str, jax.Array]]:
  """One SGD step on a global batch; returns the new state and batch-mean metrics.

  ``metrics['finite']`` is False when the loss, the gradient norm or the updated state is not finite; the
  returned state is then the given one, unchanged (``skeljax/finite_guard.py``).
  """
  dropout_key = jax.random.fold_in(state.rng, state.step)
  inputs_fn = cfg.inputs_fn or gcn_inputs
  x = inputs_fn(batch)
  labels = batch['label'].reshape(-1)

  def loss_fn(params, batch_stats):
    if cfg.compute_dtype != jnp.float32:
      # bf16 compute, float32 master weights: the cast is inside the gradient, so grads come back float32.
      params = _cast_floats(params, cfg.compute_dtype)
    # copy=True: merging state that jax traces into a fresh module avoids NNX's BatchStat trace-level error.
    model = nnx.merge(cfg.graphdef, params, batch_stats, copy=True)
    nnx.reseed(model, dropout=dropout_key)
    logits = model(x.astype(cfg.compute_dtype)).astype(jnp.float32)
    # Training uses one clip per sample in every recipe; averaging raw scores is the identity there.
    logits = logits.mean(axis=1)
    loss = cfg.loss_fn(logits, labels)
    return loss, (logits, nnx.state(model, nnx.Not(nnx.Param)))

  (loss, (logits, batch_stats)), grads = jax.value_and_grad(loss_fn, has_aux=True)(
      state.params, state.batch_stats)
  updates, opt_state = cfg.tx.update(grads, state.opt_state, state.params)
  params = optax.apply_updates(state.params, updates)
  # Keep float32 statistics float32 whatever the compute dtype.
  batch_stats = jax.tree.map(lambda new, old: new.astype(old.dtype), batch_stats, state.batch_stats)
  new_state = state.replace(step=state.step + 1, params=params, batch_stats=batch_stats, opt_state=opt_state)
  grad_norm = optax.global_norm(grads)
  finite = finite_guard.step_is_finite(loss, grad_norm, (params, batch_stats, opt_state))
  new_state = finite_guard.keep_if(finite, new_state, state)
  step_metrics = {
      'loss': loss,
      'top1': metrics.batch_topk_correct(logits, labels, 1).mean(),
      'top5': metrics.batch_topk_correct(logits, labels, 5).mean(),
      'grad_norm': grad_norm,
      'lr': cfg.learning_rate_fn(state.step),
      'finite': finite,
  }
  return new_state, step_metrics


def eval_step(state: TrainState, batch: Mapping[str, jax.Array], *, cfg: StepConfig) -> jax.Array:
  """Clip-averaged class scores ``[N, num_classes]`` (``average_clips``) in eval mode."""
  inputs_fn = cfg.inputs_fn or gcn_inputs
  params = state.params
  if cfg.compute_dtype != jnp.float32:
    params = _cast_floats(params, cfg.compute_dtype)
  model = nnx.merge(cfg.graphdef, params, state.batch_stats, copy=True)
  logits = model(inputs_fn(batch).astype(cfg.compute_dtype)).astype(jnp.float32)
  return average_clips(logits, cfg.average_clips)


# ---------------------------------------------------------------------------------------------------------------
# State creation.


def split_keys(seed: int) -> dict[str, jax.Array]:
  """Root key -> init / data / dropout keys."""
  init_key, data_key, dropout_key = jax.random.split(jax.random.key(seed), 3)
  return {'init': init_key, 'data': data_key, 'dropout': dropout_key}


def data_seed(seed: int) -> int:
  """The integer seed grain gets, derived from the root key."""
  return int(jax.random.randint(split_keys(seed)['data'], (), 0, 2**31 - 1))


def model_graphdefs(model_cfg: Mapping) -> tuple[Any, Any]:
  """(train graphdef, eval graphdef) of the configured model, built from shapes only."""
  abstract = nnx.eval_shape(lambda: create_model(model_cfg, nnx.Rngs(params=0, dropout=0)))
  abstract.train()
  train_def = nnx.split(abstract, nnx.Param, ...)[0]
  abstract.eval()
  eval_def = nnx.split(abstract, nnx.Param, ...)[0]
  return train_def, eval_def


def create_train_state(model_cfg: Mapping, tx: optax.GradientTransformation, seed: int,
                       mesh: jax.sharding.Mesh) -> TrainState:
  """Initialises model and optimizer directly into replicated device buffers (no host copy)."""
  keys = split_keys(seed)

  def init():
    model = create_model(model_cfg, nnx.Rngs(params=keys['init'], dropout=keys['dropout']))
    _, params, batch_stats = nnx.split(model, nnx.Param, ...)
    return TrainState(step=jnp.zeros((), jnp.int32), params=params, batch_stats=batch_stats,
                      opt_state=tx.init(params), rng=keys['dropout'])

  # Shapes first: the jitted init writes each buffer straight into its (replicated) sharding.
  abstract = jax.eval_shape(init)
  shardings = jax.tree.map(lambda _: sharding.replicated(mesh), abstract)
  return jax.jit(init, out_shardings=shardings)()


def abstract_state(state: TrainState) -> TrainState:
  """``jax.ShapeDtypeStruct`` leaves with shardings: the restore target for a checkpoint of ``state``."""
  return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), state)


# The checkpoint's ``model`` item: parameters + non-RNG model variables as a pure dict. RNG streams are not
# saved (dropout is reseeded from the state's rng and step).
def model_pure_dict(state: TrainState) -> dict:
  """The ``model`` checkpoint item of a state: a nested dict of arrays (params, BN stats, buffers)."""
  variables = nnx.merge_state(state.params, state.batch_stats)
  variables = variables.filter(nnx.Not(nnx.RngState))
  return variables.to_pure_dict()


def apply_model_dict(state: TrainState, tree: Mapping, *, strict: bool = True, source: str = '') -> TrainState:
  """Replaces the state's model variables by a ``model`` checkpoint item (nested dict of arrays).

  ``strict``: every variable must be present with its shape. Otherwise missing keys keep their init and
  shape-mismatched ones (e.g. a head for another number of classes) are skipped, with a warning each.
  """
  # Keys as strings: orbax restores integer keys (list indices) as strings.
  flat_tree = {tuple(str(p) for p in k): v for k, v in nnx.traversals.flatten_mapping(tree).items()}
  problems, replaced = [], 0

  def replace(part: nnx.State) -> nnx.State:
    nonlocal replaced
    out = []
    for path, variable in part.flat_state():
      name = '/'.join(map(str, path))
      value = None if isinstance(variable, nnx.RngState) else flat_tree.pop(tuple(map(str, path)), None)
      if value is None:
        if not isinstance(variable, nnx.RngState):
          problems.append(f'missing {name}')
        out.append((path, variable))
        continue
      value, target = np.asarray(value), variable.get_value()
      if value.shape != target.shape:
        problems.append(f'shape of {name}: checkpoint {value.shape}, model {tuple(target.shape)}')
        out.append((path, variable))
        continue
      out.append((path, variable.replace(jax.device_put(value.astype(target.dtype), target.sharding))))
      replaced += 1
    return nnx.State.from_flat_path(out)

  params, batch_stats = replace(state.params), replace(state.batch_stats)
  problems += [f'unexpected {"/".join(map(str, k))}' for k in flat_tree]
  if problems:
    message = f'checkpoint {source} does not match the model: ' + '; '.join(problems[:20])
    if strict or replaced == 0:
      raise ValueError(message)
    logging.warning('%s (loaded %d variables, skipped the rest)', message, replaced)
  return state.replace(params=params, batch_stats=batch_stats)


# ---------------------------------------------------------------------------------------------------------------
# The loop.


class InitFromRequiredError(ValueError):
  """A fine-tuning config was started without ``init_from``."""


class _Preemption:
  """Turns SIGTERM / SIGINT into a flag the loop checks after each step (then it saves and stops)."""

  def __init__(self):
    self.requested = False
    self._previous = {}

  def __enter__(self):
    for sig in (signal.SIGTERM, signal.SIGINT):
      try:
        self._previous[sig] = signal.signal(sig, self._handle)
      except ValueError:  # not the main thread: leave signals alone
        pass
    return self

  def _handle(self, signum, frame):  # pylint: disable=unused-argument
    logging.warning('received signal %d: saving a checkpoint after this step, then stopping', signum)
    self.requested = True

  def __exit__(self, *exc):
    for sig, handler in self._previous.items():
      signal.signal(sig, handler)

  def should_stop(self) -> bool:
    """True on every host once any host was signalled."""
    if jax.process_count() == 1:
      return self.requested
    from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top
    return bool(np.any(multihost_utils.process_allgather(np.array([self.requested]))))


def make_step_config(cfg: ml_collections.ConfigDict, steps_per_epoch: int, *, eval_mode: bool = False,
                     average: str | None = None) -> StepConfig:
  """The static step pieces for a config: graphdef, optimizer, loss, schedule, dtype, inputs."""
  train_def, eval_def = model_graphdefs(cfg.model)
  learning_rate_fn = optim.create_learning_rate_fn(cfg.schedule, cfg.optimizer.lr, steps_per_epoch,
                                                   cfg.num_epochs)
  tx = optim.create_optimizer(cfg.optimizer, learning_rate_fn, cfg.get('grad_clip_norm'))
  if cfg.compute_dtype not in COMPUTE_DTYPES:
    raise ValueError(f'compute_dtype must be one of {sorted(COMPUTE_DTYPES)}, got {cfg.compute_dtype!r}')
  inputs_fn = make_heatmap_inputs_fn(cfg.device_heatmap) if cfg.get('device_heatmap') else None
  return StepConfig(graphdef=eval_def if eval_mode else train_def, tx=tx, loss_fn=losses.get_loss_fn(cfg.loss),
                    learning_rate_fn=learning_rate_fn, compute_dtype=COMPUTE_DTYPES[cfg.compute_dtype],
                    inputs_fn=inputs_fn,
                    average_clips=average if average is not None else cfg.eval.get('average_clips', 'prob'))


def jit_train_step(step_cfg: StepConfig, mesh: jax.sharding.Mesh, state: TrainState):
  """``train_step`` under jit: batch over 'data', state replicated and donated."""
  state_sharding = jax.tree.map(lambda x: x.sharding, state)
  return jax.jit(functools.partial(train_step, cfg=step_cfg),
                 in_shardings=(state_sharding, sharding.data_sharding(mesh)),
                 out_shardings=(state_sharding, sharding.replicated(mesh)), donate_argnums=0)


def jit_eval_step(step_cfg: StepConfig, mesh: jax.sharding.Mesh, state: TrainState):
  """``eval_step`` under jit: batch over 'data', scores come back batch-sharded."""
  state_sharding = jax.tree.map(lambda x: x.sharding, state)
  return jax.jit(functools.partial(eval_step, cfg=step_cfg),
                 in_shardings=(state_sharding, sharding.data_sharding(mesh)),
                 out_shardings=sharding.data_sharding(mesh))


def predict_split(p_eval_step, state: TrainState, batches: Iterable[dict[str, np.ndarray]],
                  mesh: jax.sharding.Mesh) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
  """Runs ``p_eval_step`` over padded eval batches -> (scores [N, C], labels [N], dataset indices [N])."""
  scores, labels, indices = [], [], []
  num_processes = jax.process_count()
  for j, batch in enumerate(batches):
    device_batch = sharding.shard_batch({k: v for k, v in batch.items() if k != 'valid'}, mesh)
    out = sharding.gather_to_host(p_eval_step(state, device_batch))
    valid = sharding.gather_to_host(sharding.shard_batch({'valid': batch['valid']}, mesh)['valid']).astype(bool)
    label = sharding.gather_to_host(device_batch['label']).reshape(-1)
    # The loader deals padded sample i to host i % P; the global batch stacks hosts in order.
    local = len(batch['valid'])
    host, k = np.divmod(np.arange(local * num_processes), local)
    index = (j * local + k) * num_processes + host
    scores.append(out[valid])
    labels.append(label[valid])
    indices.append(index[valid])
  if not scores:
    raise ValueError('the evaluation split is empty')
  return np.concatenate(scores), np.concatenate(labels).astype(np.int64), np.concatenate(indices)


def evaluate_state(p_eval_step, state, data: EvalData, mesh, topk) -> dict[str, float]:
  """Accuracy metrics of ``state`` on a split (MMAction2 ``AccMetric`` semantics)."""
  scores, labels, _ = predict_split(p_eval_step, state, data.batches(), mesh)
  return metrics.evaluate_scores(scores, labels, topk)


def _meta(cfg: ml_collections.ConfigDict, step: int, epoch: float) -> dict:
  import json  # pylint: disable=g-import-not-at-top
  return {'step': int(step), 'epoch': float(epoch), 'config': json.loads(cfg.to_json_best_effort())}


def train_and_evaluate(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path,
                       data: Data | None = None) -> dict[str, Any]:
  """Trains ``cfg`` in ``workdir`` (resuming from its latest checkpoint), evaluating every few epochs.

  Returns the last validation metrics (``{}`` if none ran) plus ``step`` and ``preempted``.
  ``data`` overrides the datasets named by the config (tests).
  """
  workdir = pathlib.Path(workdir)
  workdir.mkdir(parents=True, exist_ok=True)
  mesh = sharding.make_mesh()
  sharding.per_process_batch_size(cfg.global_batch_size, mesh)  # raises unless the batch divides evenly
  if data is None:
    data = create_data(cfg, mesh)
  steps_per_epoch = data.steps_per_epoch
  total_steps = steps_per_epoch * cfg.num_epochs
  step_cfg = make_step_config(cfg, steps_per_epoch)
  eval_cfg = step_cfg.replace(graphdef=model_graphdefs(cfg.model)[1])

  manager = checkpointing.create_manager(workdir, cfg.checkpoint)
  start_step = manager.latest_step()
  if start_step is None and cfg.get('require_init_from') and not cfg.get('init_from'):
    raise InitFromRequiredError(
        'this recipe fine-tunes pretrained weights (MMAction2 bakes them in as load_from): pass '
        '--config.init_from=<workdir or checkpoint folder>, e.g. a converted Kinetics-400 PoseC3D checkpoint '
        '(python -m skeljax.tools.convert_mmaction ...), or --config.require_init_from=False to train from '
        'scratch')
  state = create_train_state(cfg.model, step_cfg.tx, cfg.seed, mesh)
  train_iter = data.train_iterator()
  if start_step is not None:
    target = abstract_state(state)
    template_model = jax.tree.map(
        lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype, sharding=x.sharding), model_pure_dict(state))
    restored = checkpointing.restore(manager, start_step, model=template_model, opt_state=target.opt_state,
                                     data_iter=train_iter)
    state = apply_model_dict(state, restored['model'], source=str(checkpointing.checkpoint_dir(workdir)))
    state = state.replace(opt_state=restored['opt_state'], step=jnp.asarray(start_step, jnp.int32))
    state = jax.device_put(state, jax.tree.map(lambda x: x.sharding, target))
    if jax.process_index() == 0:
      print(f'resumed from step {start_step} in {checkpointing.checkpoint_dir(workdir)}', flush=True)
  else:
    start_step = 0
    if cfg.get('init_from'):
      step_dir = checkpointing.resolve_step_dir(cfg.init_from, prefer='best')
      state = apply_model_dict(state, checkpointing.load_model_state(step_dir), strict=False,
                               source=str(step_dir))
      logging.info('initialised the model from %s', step_dir)

  p_train_step = jit_train_step(step_cfg, mesh, state)
  p_eval_step = jit_eval_step(eval_cfg, mesh, state)
  writer = logging_utils.MetricWriter(workdir, resume_step=start_step)
  progress = logging_utils.Progress(total_steps, start_step, cfg.global_batch_size)
  topk = tuple(cfg.eval.get('topk', (1, 5)))
  every_epochs = max(int(cfg.eval.get('every_epochs', 1)), 1)
  every_steps = int(cfg.checkpoint.get('every_steps', 0) or 0)
  log_every = max(int(cfg.get('log_every_steps', 50)), 1)
  last_eval: dict[str, float] = {}
  pending: list[dict[str, jax.Array]] = []
  preempted = False
  step = start_step
  train_start = time.perf_counter()
  epoch_clock = logging_utils.EpochClock(cfg.global_batch_size, start_step)
  compiled_train_step = None

  saved_step = start_step
  guard = finite_guard.FiniteGuard()

  def save(step, eval_metrics=None):
    nonlocal saved_step
    if step == saved_step:  # e.g. a stop request right after the end-of-epoch save
      return
    if guard.check_all():  # every step up to this one must have been finite; else nothing is written
      return
    checkpointing.save(manager, step, model=model_pure_dict(state), opt_state=state.opt_state,
                       data_iter=train_iter, meta=_meta(cfg, step, step / steps_per_epoch),
                       metrics=eval_metrics)
    saved_step = step

  with _Preemption() as preemption:
    while step < total_steps:
      # 'valid' is all True for training batches (the remainder is dropped), so it stays on the host.
      batch = sharding.shard_batch({k: v for k, v in next(train_iter).items() if k != 'valid'}, mesh)
      if compiled_train_step is None:
        # Compiled ahead of the first step so that the compiler's freed memory goes back to the OS before the
        # step's buffers are allocated (the process's peak memory is then the step's alone).
        compiled_train_step = p_train_step.lower(state, batch).compile()
        runtime.release_free_memory()
        epoch_clock.restart(step)  # the epoch's time is training, not compiling
      state, step_metrics = compiled_train_step(state, batch)
      step += 1
      # The previous step's flag, read now that this step is queued: no stall of the device pipeline.
      if guard.add(step, step_metrics.pop('finite'), step_metrics):
        break
      pending.append(step_metrics)
      if step % log_every == 0 or step == total_steps:
        summary = {k: float(np.mean([jax.device_get(m[k]) for m in pending])) for k in pending[0]}
        summary['clips_per_sec'] = progress.update(step, summary['loss'])
        writer.write(step, 'train', summary)
        pending = []
      end_of_epoch = step % steps_per_epoch == 0
      epoch = step // steps_per_epoch
      if end_of_epoch:
        jax.block_until_ready(state.step)  # the epoch's last step done: the lap is the device's real time
        timing = epoch_clock.lap(step)
        writer.write(step, 'epoch', dict(timing, epoch=epoch))
        progress.write(f'epoch {epoch}/{cfg.num_epochs}: {timing["seconds"]:.1f} s of training '
                       f'({timing["steps"]} steps), {timing["clips_per_sec"]:.1f} clips/s')
      if end_of_epoch and (epoch % every_epochs == 0 or step == total_steps):
        if not last_eval:
          # The first evaluation compiles the eval step (on the compiler's threads, whose heaps do not reuse
          # the main heap's free memory): the train step's retained buffers go back to the OS first, so that
          # the compiler's memory is not added to them (AAGCN at batch 8: peak RSS -60 MB).
          runtime.release_free_memory()
        last_eval = evaluate_state(p_eval_step, state, data.val, mesh, topk)
        writer.write(step, 'val', last_eval)
        progress.write(f'epoch {epoch}/{cfg.num_epochs} step {step}: ' +
                       ', '.join(f'{k} {v:.4f}' for k, v in last_eval.items()))
        save(step, {checkpointing.BEST_METRIC: last_eval['top1']})
      elif step == total_steps or (every_steps and step % every_steps == 0):
        save(step)
      if preemption.should_stop() and step < total_steps:
        save(step)
        preempted = True
        progress.write(f'stopped at step {step} on request; resume by running the same command again')
        break
      if end_of_epoch:
        epoch_clock.restart(step)

  if not last_eval and not preempted and not guard.failed and step == total_steps:
    # Nothing left to train (a finished run started again): report the final model's accuracy.
    last_eval = evaluate_state(p_eval_step, state, data.val, mesh, topk)
  checkpointing.wait_until_finished(manager)
  last_good = manager.latest_step()
  manager.close()
  progress.close()
  writer.close()
  if jax.process_index() == 0:
    logging_utils.plot_curves(workdir)
  logging.info('trained %d steps in %.1f s', step - start_step, time.perf_counter() - train_start)
  if guard.failed:
    raise guard.error(None if last_good is None else checkpointing.checkpoint_dir(workdir) / str(last_good))
  return dict(last_eval, step=step, preempted=preempted)


# ---------------------------------------------------------------------------------------------------------------
# Data feeding: ``skeljax.data.loader`` grain pipelines over random-access records (a built TFDS split, or any
# sequence of MMAction2 results dicts in tests).


@dataclasses.dataclass
class EvalData:
  """An evaluation split: ``batches()`` yields this host's padded batches (``valid`` marks real samples)."""
  records: Any
  pipeline: Callable
  global_batch_size: int
  seed: int = 0

  def __len__(self) -> int:
    return len(self.records)

  def batches(self) -> Iterator[dict[str, np.ndarray]]:
    """One pass in dataset order, padded to whole global batches."""
    from skeljax.data import loader  # pylint: disable=g-import-not-at-top
    return iter(loader.make_dataset(self.records, self.pipeline, global_batch_size=self.global_batch_size,
                                    seed=self.seed, shuffle=False, num_epochs=1, drop_remainder=False))


@dataclasses.dataclass
class Data:
  """Training and validation data as the loop consumes them."""
  train_records: Any
  train_pipeline: Callable
  val: EvalData
  global_batch_size: int
  seed: int
  dataset_repeat: int = 1
  worker_count: int = 0

  @property
  def steps_per_epoch(self) -> int:
    return epochs_to_steps(len(self.train_records), self.dataset_repeat, self.global_batch_size)

  def train_iterator(self):
    """A checkpointable grain iterator of this host's training batches, endless.

    A config epoch is ``dataset_repeat`` passes (MMAction2's RepeatDataset); each pass is a new permutation.
    """
    from skeljax.data import loader  # pylint: disable=g-import-not-at-top
    return iter(loader.make_dataset(self.train_records, self.train_pipeline,
                                    global_batch_size=self.global_batch_size, seed=self.seed, shuffle=True,
                                    num_epochs=None, worker_count=self.worker_count))


def open_split(cfg: ml_collections.ConfigDict, split: str):
  """Random-access records (MMAction2 dicts) of one split of ``cfg.dataset``.

  Raises ``skeljax.data.sources.DatasetNotBuiltError`` (a ``FileNotFoundError``) naming the build command.
  """
  from skeljax.data import sources  # pylint: disable=g-import-not-at-top
  return sources.open_split(cfg.dataset.name, split, data_dir=cfg.dataset.get('data_dir'))


def create_data(cfg: ml_collections.ConfigDict, mesh: jax.sharding.Mesh) -> Data:
  """Training / validation data of a config (TFDS splits through the configured pipelines)."""
  from skeljax.data.pipeline import build_pipeline  # pylint: disable=g-import-not-at-top
  seed = data_seed(cfg.seed)
  val = EvalData(open_split(cfg, cfg.dataset.val_split), build_pipeline(cfg.val_pipeline),
                 eval_batch_size(cfg.eval.get('batch_size', 64), mesh), seed)
  return Data(open_split(cfg, cfg.dataset.train_split), build_pipeline(cfg.train_pipeline), val,
              cfg.global_batch_size, seed, int(cfg.get('dataset_repeat', 1)), int(cfg.get('worker_count', 0)))


def eval_batch_size(batch_size: int, mesh: jax.sharding.Mesh) -> int:
  """The evaluation batch rounded up to a multiple of the device count (padding is masked)."""
  return -(-int(batch_size) // mesh.size) * mesh.size


def epochs_to_steps(num_examples: int, dataset_repeat: int, global_batch_size: int) -> int:
  """Optimizer steps per epoch over the repeated dataset (last partial batch dropped)."""
  steps = (num_examples * dataset_repeat) // global_batch_size
  if steps < 1:
    raise ValueError(f'{num_examples} examples x repeat {dataset_repeat} give no full batch of '
                     f'{global_batch_size}; lower global_batch_size')
  return steps

