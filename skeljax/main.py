"""Command line: flags -> config -> train / eval / export.

  python -m skeljax.main --config=configs/stgcn_ntu60.py:xsub,joint,3d --workdir=runs/stgcn_j \\
      [--mode=train|eval|export] [--checkpoint=best|latest|<step>|<folder>] [--out=result.pkl] \\
      [--config.global_batch_size=64 --config.dataset.data_dir=~/tensorflow_datasets ...]

Training resumes from the workdir's latest checkpoint. Multi-host: pass ``--coordinator_address``,
``--num_processes`` and ``--process_id`` (or run under a cluster manager that JAX detects).
"""

from __future__ import annotations

import os
import sys

from absl import app, flags, logging
from ml_collections import config_flags

_CONFIG = config_flags.DEFINE_config_file('config', None, 'Config file (configs/*.py[:variant]).',
                                          lock_config=True)
_WORKDIR = flags.DEFINE_string('workdir', None, 'Run folder: checkpoints, logs, curves.')
_MODE = flags.DEFINE_enum('mode', 'train', ['train', 'eval', 'export'], 'What to do.')
_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'eval/export: best, latest or a step of --workdir, or a '
                                  'checkpoint folder (default: best, else latest, in --workdir).')
_OUT = flags.DEFINE_string('out', None, 'eval: result pickle (MMAction2 dump form); export: output folder.')
_SPLIT = flags.DEFINE_string('split', None, 'eval: dataset split (default: config dataset.test_split).')
_COORDINATOR = flags.DEFINE_string('coordinator_address', None, 'Multi-process: host:port of process 0.')
_NUM_PROCESSES = flags.DEFINE_integer('num_processes', None, 'Multi-process: number of processes.')
_PROCESS_ID = flags.DEFINE_integer('process_id', None, 'Multi-process: this process index.')


def _set_deterministic_flags() -> None:
  # Must run before JAX creates its backends. CPU reductions are already deterministic; GPUs need this.
  os.environ['XLA_FLAGS'] = (os.environ.get('XLA_FLAGS', '') + ' --xla_gpu_deterministic_ops=true').strip()


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # orbax and grain log every save and read at INFO
  cfg = _CONFIG.value
  if cfg is None:
    raise app.UsageError('--config is required')
  if cfg.get('deterministic'):
    _set_deterministic_flags()
  # pylint: disable-next=g-import-not-at-top  (after XLA flags are set)
  from skeljax import checkpointing, finite_guard, runtime, sharding, train
  runtime.set_cpu_compiler_options()  # both before the backends exist (skeljax/runtime.py says why)
  runtime.run_cpu_steps_inline()
  sharding.maybe_initialize_distributed(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  workdir = _WORKDIR.value
  try:
    if _MODE.value == 'train':
      if not workdir:
        raise app.UsageError('--workdir is required for training')
      results = train.train_and_evaluate(cfg, workdir)
      print('final:', ', '.join(f'{k} {v:.4f}' if isinstance(v, float) else f'{k} {v}'
                                for k, v in results.items()), flush=True)
      return 143 if results.get('preempted') else 0
    if _MODE.value == 'eval':
      from skeljax import evaluate  # pylint: disable=g-import-not-at-top
      evaluate.evaluate(cfg, workdir, _CHECKPOINT.value, _OUT.value, split=_SPLIT.value)
      return 0
    from skeljax import export  # pylint: disable=g-import-not-at-top
    export.export_model(cfg, workdir, checkpoint=_CHECKPOINT.value, out=_OUT.value)
    return 0
  except (FileNotFoundError, train.InitFromRequiredError) as e:  # incl. sources.DatasetNotBuiltError
    # A missing dataset, checkpoint or pretrained model is a usage problem: say what to do, no traceback.
    print(f'error: {e}', file=sys.stderr)
    return 2
  except (finite_guard.NonFiniteError, checkpointing.CheckpointSaveError) as e:
    # The message names the step and the checkpoint to resume from; a traceback would only bury it.
    print(f'error: {e}', file=sys.stderr)
    return 1


if __name__ == '__main__':
  flags.mark_flag_as_required('config')
  app.run(main)
