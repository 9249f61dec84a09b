"""Training logs: a tqdm progress bar, TensorBoard events, a JSON-lines file and a PNG of the curves.

Only process 0 writes; other hosts get no-op writers.
"""

from __future__ import annotations

import json
import pathlib
import time
from collections.abc import Mapping

import jax
import numpy as np

METRICS_FILE = 'metrics.jsonl'
CURVES_FILE = 'curves.png'


class MetricWriter:
  """Appends ``{'step', 'split', **metrics}`` records to ``<workdir>/metrics.jsonl`` and TensorBoard."""

  def __init__(self, workdir: str | pathlib.Path, enabled: bool | None = None, resume_step: int | None = None):
    """``resume_step``: the checkpoint step a resumed run starts from; records logged after it (by a run
    killed before its next checkpoint) are dropped, since the resumed run logs those steps again."""
    self.workdir = pathlib.Path(workdir)
    self.enabled = jax.process_index() == 0 if enabled is None else enabled
    self._tb = None
    if self.enabled:
      self.workdir.mkdir(parents=True, exist_ok=True)
      if resume_step is not None:
        _truncate_metrics(self.workdir / METRICS_FILE, resume_step)
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top
      self._tb = SummaryWriter(str(self.workdir / 'tensorboard'))

  def write(self, step: int, split: str, metrics: Mapping[str, float]) -> None:
    """Logs scalar ``metrics`` of ``split`` ('train', 'val', ...) at ``step``."""
    if not self.enabled:
      return
    record = {'step': int(step), 'split': split, 'time': time.time()}
    record.update({k: float(v) for k, v in metrics.items()})
    with open(self.workdir / METRICS_FILE, 'a') as f:
      f.write(json.dumps(record) + '\n')
    for k, v in metrics.items():
      self._tb.add_scalar(f'{split}/{k}', float(v), int(step))

  def close(self) -> None:
    if self._tb is not None:
      self._tb.flush()
      self._tb.close()
      self._tb = None


def _truncate_metrics(path: pathlib.Path, last_step: int) -> None:
  """Keeps the records of steps <= ``last_step``; a line cut short by a kill mid-write goes too."""
  if not path.is_file():
    return
  kept = []
  for line in path.read_text().splitlines():
    try:
      record = json.loads(line)
    except json.JSONDecodeError:
      continue
    if record.get('step', 0) <= last_step:
      kept.append(line)
  tmp = path.with_suffix('.tmp')
  tmp.write_text(''.join(f'{line}\n' for line in kept))
  tmp.replace(path)


def read_metrics(workdir: str | pathlib.Path) -> list[dict]:
  """All records of a run's ``metrics.jsonl`` (empty when there is none)."""
  path = pathlib.Path(workdir) / METRICS_FILE
  if not path.is_file():
    return []
  return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_curves(workdir: str | pathlib.Path, out: str | pathlib.Path | None = None) -> pathlib.Path | None:
  """Plots train loss / lr and validation accuracy against step into a PNG; None when nothing was logged."""
  records = read_metrics(workdir)
  if not records:
    return None
  import matplotlib  # pylint: disable=g-import-not-at-top
  matplotlib.use('Agg')  # headless: no display on training machines
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  def series(split, key):
    pts = [(r['step'], r[key]) for r in records if r['split'] == split and key in r]
    return np.array(pts).T if pts else None

  fig, axes = plt.subplots(1, 3, figsize=(15, 4))
  for ax, (split, keys, title) in zip(axes, [('train', ['loss'], 'training loss'),
                                             ('train', ['lr'], 'learning rate'),
                                             ('val', ['top1', 'top5', 'mean_class_accuracy'], 'validation')]):
    for key in keys:
      xy = series(split, key)
      if xy is not None:
        ax.plot(xy[0], xy[1], marker='o' if split == 'val' else None, label=f'{split} {key}')
    ax.set_title(title)
    ax.set_xlabel('step')
    if ax.get_lines():
      ax.legend(loc='best')
  train_top1 = series('train', 'top1')
  if train_top1 is not None:
    axes[2].plot(train_top1[0], train_top1[1], alpha=0.5, label='train top1')
    axes[2].legend(loc='best')
  fig.tight_layout()
  out = pathlib.Path(out) if out else pathlib.Path(workdir) / CURVES_FILE
  fig.savefig(out, dpi=80)
  plt.close(fig)
  return out


class EpochClock:
  """Seconds of training per epoch and the clips/s they make; evaluation and checkpointing are left out.

  ``lap`` is called when an epoch's last step has finished on the device (the caller waits for it), so
  the figure is the real job's rate; ``restart`` after the evaluation and save (and after compiling the
  step) starts the next lap. A resumed run's first lap covers only the steps it ran.
  """

  def __init__(self, clips_per_step: int, step: int):
    self._clips_per_step = clips_per_step
    self.restart(step)

  def restart(self, step: int) -> None:
    self._start_time, self._start_step = time.perf_counter(), step

  def lap(self, step: int) -> dict[str, float]:
    """``{'seconds', 'clips_per_sec', 'steps'}`` of the training since the last (re)start."""
    seconds = max(time.perf_counter() - self._start_time, 1e-9)
    steps = step - self._start_step
    return {'seconds': seconds, 'clips_per_sec': steps * self._clips_per_step / seconds, 'steps': steps}


class Progress:
  """A tqdm bar over optimizer steps showing loss and throughput in clips/s; the ETA is tqdm's."""

  def __init__(self, total: int, initial: int, clips_per_step: int, enabled: bool | None = None):
    from tqdm import tqdm  # pylint: disable=g-import-not-at-top
    enabled = jax.process_index() == 0 if enabled is None else enabled
    self._bar = tqdm(total=total, initial=initial, disable=not enabled, unit='step', dynamic_ncols=True,
                     smoothing=0.1, desc='train')
    self._clips_per_step = clips_per_step
    self._last_time, self._last_step = time.perf_counter(), initial

  def update(self, step: int, loss: float | None = None) -> float:
    """Moves the bar to ``step``; returns the clips/s since the last update."""
    now = time.perf_counter()
    rate = (step - self._last_step) * self._clips_per_step / max(now - self._last_time, 1e-9)
    self._bar.update(step - self._last_step)
    postfix = {'clips/s': f'{rate:.1f}'}
    if loss is not None:
      postfix['loss'] = f'{loss:.4f}'
    self._bar.set_postfix(postfix, refresh=False)
    self._last_time, self._last_step = now, step
    return rate

  def write(self, message: str) -> None:
    """Prints a line without breaking the bar."""
    self._bar.write(message)

  def close(self) -> None:
    self._bar.close()
