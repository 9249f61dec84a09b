"""``make demo``: build the embedded synthetic dataset if needed, train ST-GCN on it, print validation top-1.

  python -m skeljax.demo --data_dir=.data --workdir=.demo_workdir [--smoke]

Idempotent: an already-built dataset is reused, and a finished run in ``--workdir`` is not retrained (the
loop resumes from its last checkpoint and only re-evaluates). The config is ``configs/stgcn_synthetic.py``;
its docstring has the equivalent ``skeljax.main`` commands. Exit status 1 if top-1 misses the target.
"""

from __future__ import annotations

import pathlib
import sys
import time

from absl import app, flags, logging

DATASET = 'synthetic_skeleton/ntu25_3d'
TARGET_TOP1 = 0.90

_DATA_DIR = flags.DEFINE_string('data_dir', '.data', 'Where TFDS datasets are (or will be) built.')
_WORKDIR = flags.DEFINE_string('workdir', '.demo_workdir', 'Run folder: checkpoints, logs, curves.')
_SMOKE = flags.DEFINE_bool('smoke', False, 'Train a handful of steps only (no accuracy target).')


def ensure_dataset(data_dir: str | pathlib.Path) -> bool:
  """Builds the synthetic dataset into ``data_dir`` unless it is already there; True if it was built now."""
  from skeljax.data import sources  # pylint: disable=g-import-not-at-top
  try:
    sources.load_builder(DATASET, data_dir=data_dir)
    return False
  except sources.DatasetNotBuiltError:
    pass
  from data_builders import build  # pylint: disable=g-import-not-at-top
  print(f'building {DATASET} in {data_dir} ...', flush=True)
  build.build(DATASET, data_dir=data_dir)
  return True


def run_demo(data_dir: str | pathlib.Path, workdir: str | pathlib.Path, *, smoke: bool = False) -> dict:
  """Builds the data if needed, trains (or resumes) the demo config and returns its validation metrics."""
  # The repository root holds the configs package; make it importable however the demo is launched.
  root = str(pathlib.Path(__file__).resolve().parents[1])
  if root not in sys.path:
    sys.path.insert(0, root)
  from configs import stgcn_synthetic  # pylint: disable=g-import-not-at-top
  from skeljax import train  # pylint: disable=g-import-not-at-top

  data_dir = pathlib.Path(data_dir).expanduser().absolute()
  ensure_dataset(data_dir)
  cfg = stgcn_synthetic.get_config('smoke' if smoke else None)
  cfg.dataset.data_dir = str(data_dir)
  start = time.perf_counter()
  results = train.train_and_evaluate(cfg, workdir)
  results['seconds'] = time.perf_counter() - start
  return results


def main(argv) -> int:
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  logging.set_verbosity(logging.WARNING)  # orbax and grain log every save and read at INFO
  from skeljax import runtime  # pylint: disable=g-import-not-at-top
  runtime.set_cpu_compiler_options()  # as `skeljax.main` does (skeljax/runtime.py says why)
  runtime.run_cpu_steps_inline()
  results = run_demo(_DATA_DIR.value, _WORKDIR.value, smoke=_SMOKE.value)
  top1 = results.get('top1')
  print(f'ST-GCN on {DATASET}: validation top-1 {100 * top1:.2f}% '
        f'(top-5 {100 * results["top5"]:.2f}%, mean class {100 * results["mean_class_accuracy"]:.2f}%) '
        f'after {results["step"]} steps, {results["seconds"]:.0f} s; logs, curves.png and checkpoints in '
        f'{_WORKDIR.value}')
  if _SMOKE.value:
    return 0
  if top1 < TARGET_TOP1:
    print(f'below the {100 * TARGET_TOP1:.0f}% target', file=sys.stderr)
    return 1
  return 0


if __name__ == '__main__':
  app.run(main)
