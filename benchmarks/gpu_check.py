r"""GPU check: skeljax (JAX) against MMAction2 1.2.0 (PyTorch eager) on the same device, in one command.

    bash benchmarks/gpu_check.sh                    # on a GPU machine (benchmarks/README.md), under 8 minutes
    bash benchmarks/gpu_check.sh --models posec3d   # one model, with the whole time budget
    python -m benchmarks.gpu_check --smoke          # CPU: tiny models and batches (tests/test_gpu_check.py)

For ST-GCN, 2s-AGCN (AAGCN) and PoseC3D (NTU60 X-Sub configs), float32 and bfloat16, at the reference batch
(16, MMAction2's per-GPU batch) and at a batch that fills the device (``LARGE_BATCH``; halved after each
out-of-memory error, the batch used is recorded): train-step and inference clips/s, MFU and peak device
memory. skeljax's side is ``benchmarks.model_benchmark.benchmark_model`` (the real jitted train / eval steps;
PoseC3D's renders its heatmap volumes from keypoints inside the step); MMAction2's is
``benchmarks/torch_reference_bench.py`` (its recognizers from its own config files, fed ready volumes), at the
batch the JAX side used. Ratios are skeljax / MMAction2 clips/s.

Each model runs in its own worker processes, JAX then PyTorch, one after the other (never two on the device
at once), inside a share of the time budget (``--budget_s``; PoseC3D gets twice a GCN's share, time left over
passes on). A worker stopped at its deadline keeps the configurations it finished; a failure is recorded in
its row and the run goes on. Within a JAX worker the configurations run from the smallest memory footprint
up, and the device's peak bytes in use only grow in a process, so ``device_peak_mb`` is that configuration's
own peak when ``device_peak_is_own`` is true (it grew during it) and an upper bound otherwise; XLA's buffer
plan of the train step (``train_memory_plan_mb``) is exact per configuration. MMAction2's peak is reset per
configuration (``torch.cuda.max_memory_allocated``).

Output: ``gpu_check.json`` (header: date, device, versions, settings; one row per model x dtype x batch with
both sides and the ratios), ``gpu_check.md`` (the table for BENCHMARKS.md) and ``gpu_check.log`` (everything
the workers printed) in ``--out_dir``, default ``$OUT`` or ``./gpu_check_out``. The PyTorch side runs in the
interpreter named by ``SKELJAX_TORCH_PYTHON``, else in this one if it has torch and mmaction; otherwise each
row says that side is not available.

This module's top level imports only the standard library: the PyTorch side imports its helpers too.
"""

from __future__ import annotations

import argparse
import collections
import datetime
import functools
import gc
import importlib.util
import json
import math
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence

from skeljax import runtime  # no JAX at import: the driver starts none

REPO = pathlib.Path(__file__).resolve().parents[1]
MARK = 'GPU_CHECK '  # a worker's protocol lines: MARK + one JSON object
TORCH_PYTHON_ENV = 'SKELJAX_TORCH_PYTHON'
MODELS = ('stgcn', 'aagcn', 'posec3d')
WEIGHT = {'stgcn': 1.0, 'aagcn': 1.0, 'posec3d': 2.0}  # share of the time budget (compiles dominate)
REFERENCE_BATCH = 16
# GCN clips are small ([2, 100, 25, 3] -> 256-channel maps of 25 x 25 frames), PoseC3D volumes are not
# ([48, 56, 56, 17], activations of ~0.5-1 GB a clip for a train step): these fill an H100 / H200 well past
# the batch where throughput stops growing, and fit its memory in float32.
LARGE_BATCH = {'stgcn': 256, 'aagcn': 256, 'posec3d': 64}
STEPS = {'stgcn': 10, 'aagcn': 10, 'posec3d': 5}
WARMUP = 3
DTYPES = ('bfloat16', 'float32')  # within a batch, the smaller footprint first
# The PyTorch side's share of a model's time slice, kept back from the JAX worker.
TORCH_SHARE, TORCH_MIN_S = 0.25, 25.0
SMOKE = dict(batch=2, steps=2, warmup=1, budget_s=300.0)


# ---------------------------------------------------------------------------------------------------------
# Helpers shared with the PyTorch side (standard library only).
# ---------------------------------------------------------------------------------------------------------

def emit(record: dict) -> None:
  """Prints one protocol line for the driver."""
  print(MARK + json.dumps(record, default=float), flush=True)


def parse_configs(text: str) -> list[tuple[int, str]]:
  """``'16:bfloat16,256:float32'`` -> ``[(16, 'bfloat16'), (256, 'float32')]``."""
  configs = []
  for item in text.split(','):
    batch, dtype = item.split(':')
    configs.append((int(batch), dtype))
  return configs


def is_out_of_memory(error: BaseException) -> bool:
  """Whether ``error`` is a device allocation failure (XLA's RESOURCE_EXHAUSTED, PyTorch's OutOfMemoryError)."""
  text = f'{type(error).__name__}: {error}'
  return 'RESOURCE_EXHAUSTED' in text or 'OutOfMemoryError' in text or 'out of memory' in text.lower()


def halve_on_oom(measure_fn: Callable[[int], dict], batch_size: int, *,
                 cleanup_fn: Callable[[], None] = gc.collect,
                 is_oom_fn: Callable[[BaseException], bool] = is_out_of_memory) -> tuple[dict, list[int]]:
  """``measure_fn(batch_size)``, retried at half the batch after each out-of-memory error.

  Returns the result and the batch sizes that ran out of memory; other errors, and running out of memory at
  batch 1, propagate.
  """
  failed = []
  while True:
    try:
      return measure_fn(batch_size), failed
    except Exception as e:  # noqa: BLE001 - only allocation failures are retried
      if not is_oom_fn(e) or batch_size < 2:
        raise
      failed.append(batch_size)
    cleanup_fn()  # outside the handler, so that the traceback's frames (and their buffers) are gone
    batch_size //= 2


def error_text(error: BaseException, limit: int = 1200) -> str:
  text = f'{type(error).__name__}: {error}'
  return text if len(text) <= limit else text[:limit] + ' ...'


# ---------------------------------------------------------------------------------------------------------
# The JAX worker: one model's configurations through model_benchmark.benchmark_model.
# ---------------------------------------------------------------------------------------------------------

def jax_worker(model: str, configs: Sequence[tuple[int, str]], *, steps: int, warmup: int, deadline: float,
               smoke: bool) -> None:
  """Measures ``configs`` of ``model`` in this process and emits a header and one row per configuration."""
  import jax  # pylint: disable=import-outside-toplevel

  from benchmarks import model_benchmark as mb  # pylint: disable=import-outside-toplevel
  if smoke:
    from benchmarks import gpu_check_smoke  # pylint: disable=import-outside-toplevel
    gpu_check_smoke.use_in(mb)
  _measure_host_pipeline_once(mb, seconds=0.2 if smoke else 3.0)
  device = jax.devices()[0]
  emit({'kind': 'header', 'side': 'jax', 'device': mb.device_description(), 'platform': device.platform,
        'device_kind': device.device_kind, 'device_count': jax.device_count(), 'jax': jax.__version__,
        'python': platform.python_version(), 'xla_flags': os.environ.get('XLA_FLAGS', ''),
        'peak_flops': {dtype: mb.peak_flops(dtype) for dtype in DTYPES}})
  peak_so_far = 0.0
  for batch, dtype in configs:
    row = {'kind': 'row', 'side': 'jax', 'model': model, 'dtype': dtype, 'batch_requested': batch}
    if time.time() >= deadline:
      row.update(status='skipped', reason='time budget spent before this configuration')
      emit(row)
      continue
    start = time.time()
    try:
      result, failed = halve_on_oom(
          functools.partial(_benchmark, mb, model, steps=steps, warmup=warmup, dtype=dtype), batch,
          cleanup_fn=functools.partial(_release, jax))
      row.update(result, status='ok')
      if failed:
        row['oom_batch_sizes'] = failed
      if 'device_peak_mb' in row:
        row['device_peak_is_own'] = row['device_peak_mb'] > peak_so_far
        peak_so_far = max(peak_so_far, row['device_peak_mb'])
    except Exception as e:  # noqa: BLE001 - recorded; the next configuration still runs
      row.update(status='error', error=error_text(e))
    row['wall_s'] = time.time() - start
    emit(row)
    _release(jax)


def _benchmark(mb, model: str, batch_size: int, *, steps: int, warmup: int, dtype: str) -> dict:
  # Keyword arguments only: model_benchmark may grow keywords with defaults.
  return mb.benchmark_model(model, batch_size=batch_size, steps=steps, warmup=warmup, dtype=dtype)


def _release(jax) -> None:
  gc.collect()
  jax.clear_caches()


def _measure_host_pipeline_once(mb, seconds: float) -> None:
  """PoseC3D's host-pipeline rate depends on neither batch nor dtype: measure it once per process."""
  measure = getattr(mb, 'host_pipeline_rate', None)
  if measure is None:
    return
  cache = {}

  def once(cfg, *args, **kwargs):
    del args, kwargs
    if 'rate' not in cache:
      cache['rate'] = measure(cfg, seconds=seconds)
    return cache['rate']

  mb.host_pipeline_rate = once


# ---------------------------------------------------------------------------------------------------------
# The driver.
# ---------------------------------------------------------------------------------------------------------

class Worker:
  """Runs one worker process until it exits or its deadline; its protocol records, log and tail."""

  def __init__(self, cmd: list[str], log, env: dict[str, str] | None = None):
    self.cmd, self.log, self.env = cmd, log, env
    self.records: list[dict] = []
    self.tail: collections.deque[str] = collections.deque(maxlen=15)
    self.stop_reason: str | None = None

  def run(self, deadline: float) -> Worker:
    remaining = deadline - time.time()
    if remaining <= 1:
      self.stop_reason = 'not started: time budget spent'
      return self
    self.log.write(f'\n$ {" ".join(self.cmd)}\n')
    self.log.flush()
    proc = subprocess.Popen(self.cmd, cwd=REPO, env=self.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, bufsize=1, start_new_session=True)
    reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
    reader.start()
    try:
      code = proc.wait(timeout=remaining)
      if code:
        self.stop_reason = f'worker exited with status {code}: ' + ' | '.join(self.tail)
    except subprocess.TimeoutExpired:
      os.killpg(proc.pid, signal.SIGKILL)
      proc.wait()
      self.stop_reason = f'worker stopped at its deadline after {remaining:.0f} s'
    reader.join(timeout=10)
    return self

  def _read(self, stream) -> None:
    for line in stream:
      self.log.write(line)
      self.log.flush()
      if line.startswith(MARK):
        try:
          record = json.loads(line[len(MARK):])
        except json.JSONDecodeError:  # cut short by a kill
          continue
        self.records.append(record)
        if record.get('kind') == 'row':
          print(_progress_line(record), flush=True)
        elif record.get('kind') == 'header' and record['side'] not in _ANNOUNCED:
          _ANNOUNCED.add(record['side'])
          print(f'# {record["side"]}: ' + ', '.join(f'{k} {record[k]}' for k in _ANNOUNCE[record['side']]),
                flush=True)
      elif line.strip():
        self.tail.append(line.strip()[:300])


_ANNOUNCE = {'jax': ('device', 'jax'), 'torch': ('device', 'torch', 'mmaction2', 'cudnn')}
_ANNOUNCED: set[str] = set()


def _progress_line(r: dict) -> str:
  name = f'  {r["side"]:5s} {r["model"]:7s} {r["dtype"]:8s} batch {r.get("batch_size", r["batch_requested"]):4d}'
  if r['status'] != 'ok':
    return f'{name}: {r["status"]}: {r.get("error", r.get("reason", ""))[:200]}'
  return (f'{name}: train {r["train_clips_per_s"]:9.1f} clips/s, infer {r["infer_clips_per_s"]:9.1f} clips/s'
          + (f', MFU {100 * r["train_mfu"]:.1f}%' if r.get('train_mfu') is not None else ''))


def torch_python() -> tuple[str | None, str]:
  """(interpreter for the PyTorch side or None, how it was chosen / why there is none)."""
  named = os.environ.get(TORCH_PYTHON_ENV, '').strip()
  if named:
    return named, f'{TORCH_PYTHON_ENV}={named}'
  missing = [m for m in ('torch', 'mmaction') if importlib.util.find_spec(m) is None]
  if not missing:
    return sys.executable, f'this interpreter ({sys.executable})'
  return None, (f'torch side not available: {sys.executable} lacks {" and ".join(missing)}; set '
                f'{TORCH_PYTHON_ENV} to a Python with torch and mmaction2 1.2.0 (benchmarks/README.md)')


def model_configs(model: str, *, smoke: bool, large_batch: dict[str, int], dtypes: Sequence[str]) -> list:
  """(batch, dtype) pairs of one model, smallest memory footprint first."""
  batches = [SMOKE['batch']] if smoke else [REFERENCE_BATCH, large_batch[model]]
  return [(b, d) for b in dict.fromkeys(batches) for d in DTYPES if d in dtypes]


def merge(model: str, configs, jax_run: Worker, torch_run: Worker | None, torch_status: str,
          jax_header: dict) -> list[dict]:
  """One row per configuration with both sides (or why a side has no figures) and the ratios."""
  jax_records, torch_records = _rows_by_config(jax_run), _rows_by_config(torch_run)
  peaks = jax_header.get('peak_flops') or {}
  rows = []
  for batch, dtype in configs:
    ours = _side(jax_records.get((batch, dtype)), jax_run)
    if torch_run is None:
      theirs = {'status': 'not available', 'reason': torch_status}
    else:  # asked for at the batch the JAX side used
      theirs = _side(torch_records.get((ours.get('batch_size', batch), dtype)), torch_run)
    row = {'model': model, 'dtype': dtype, 'batch_requested': batch, 'jax': ours, 'torch': theirs}
    for what, flops_key in (('train', 'train_step_gflop'), ('infer', 'infer_gflop')):
      a, b = ours.get(f'{what}_clips_per_s'), theirs.get(f'{what}_clips_per_s')
      row[f'{what}_ratio'] = a / b if a and b else None
      flops, peak = ours.get(flops_key), peaks.get(dtype)
      if b and flops and peak:
        # The same network and step: XLA's FLOP count per clip gives MMAction2's utilisation too.
        theirs[f'{what}_mfu_xla_flops'] = flops * 1e9 / ours['batch_size'] * b / peak
    rows.append(row)
  return rows


def _rows_by_config(run: Worker | None) -> dict:
  records = run.records if run else []
  return {(r['batch_requested'], r['dtype']): r for r in records if r.get('kind') == 'row'}


def _side(record: dict | None, run: Worker) -> dict:
  if record is None:
    return {'status': 'not run', 'reason': run.stop_reason or 'no record from the worker'}
  return {k: v for k, v in record.items() if k not in ('kind', 'side', 'model', 'dtype')}


def markdown(result: dict) -> str:
  """The table for BENCHMARKS.md, with the setup above it."""
  h = result['header']
  jax_h, torch_h = h.get('jax') or {}, h.get('torch') or {}
  lines = [f'Measured {h["date"]} with `bash benchmarks/gpu_check.sh{" --smoke" if h["smoke"] else ""}` '
           f'({h["wall_s"]:.0f} s): {jax_h.get("device", "device unknown")}; jax {jax_h.get("jax", "?")}, '
           f'torch {torch_h.get("torch", "n/a")}, mmaction2 {torch_h.get("mmaction2", "n/a")}.', '',
           '| model | dtype | batch | train clips/s skeljax / MMAction2 | ratio | infer clips/s skeljax / '
           'MMAction2 | ratio | skeljax MFU train / infer | peak MB skeljax / MMAction2 |',
           '|---|---|---:|---:|---:|---:|---:|---:|---:|']

  def fig(side: dict, key: str, fmt: str = '{:.1f}') -> str:
    value = side.get(key)
    return fmt.format(value) if isinstance(value, (int, float)) else _short_status(side)

  def ratio(value: float | None) -> str:
    return f'{value:.2f}x' if value else '–'

  def pct(side: dict, key: str) -> str:
    value = side.get(key)
    return f'{100 * value:.1f}%' if isinstance(value, (int, float)) else '–'

  for r in result['rows']:
    jx, pt = r['jax'], r['torch']
    batch = jx.get('batch_size', r['batch_requested'])
    if batch != r['batch_requested']:
      batch = f'{batch} (asked {r["batch_requested"]})'
    peak_jax = jx.get('device_peak_mb', jx.get('train_memory_plan_mb'))
    peak_jax = (f'{peak_jax:,.0f}' + ('' if jx.get('device_peak_is_own', True) else ' (≤)')
                if isinstance(peak_jax, (int, float)) else _short_status(jx))
    lines.append(f'| {r["model"]} | {r["dtype"]} | {batch} | {fig(jx, "train_clips_per_s")} / '
                 f'{fig(pt, "train_clips_per_s")} | {ratio(r["train_ratio"])} | {fig(jx, "infer_clips_per_s")} / '
                 f'{fig(pt, "infer_clips_per_s")} | {ratio(r["infer_ratio"])} | {pct(jx, "train_mfu")} / '
                 f'{pct(jx, "infer_mfu")} | {peak_jax} / {fig(pt, "device_peak_mb", "{:,.0f}")} |')
  return '\n'.join(lines) + '\n'


def _short_status(side: dict) -> str:
  status = side.get('status', '?')
  return {'ok': '–', 'not available': 'n/a'}.get(status, status)


def measure_model(model: str, configs, *, model_end: float, torch_py: str | None, torch_status: str,
                  steps: int, warmup: int, smoke: bool, log) -> tuple[list[dict], dict]:
  """Both sides of one model by ``model_end``: the JAX worker, then MMAction2 in the time kept back for it.

  Returns the merged rows and each side's header record.
  """
  torch_reserve = max(TORCH_MIN_S, TORCH_SHARE * (model_end - time.time())) if torch_py else 0.0
  jax_deadline = model_end - torch_reserve
  common = ['--steps', str(steps), '--warmup', str(warmup)] + (['--smoke'] if smoke else [])
  env = dict(os.environ)
  if smoke:
    # The smoke run checks the script, not speed: LLVM's backend optimisations off halve its compile time.
    env['XLA_FLAGS'] = f'{env.get("XLA_FLAGS", "")} {runtime.FAST_COMPILE_XLA_FLAGS}'.strip()
  jax_run = Worker([sys.executable, '-m', 'benchmarks.gpu_check', '--jax_worker', '--models', model, '--configs',
                    ','.join(f'{b}:{d}' for b, d in configs), '--deadline', str(jax_deadline)] + common,
                   log, env).run(jax_deadline)
  headers = {'jax': next((r for r in jax_run.records if r.get('kind') == 'header'), {})}
  torch_run = None
  if torch_py:
    # MMAction2 runs at the batch the JAX side ended up with (smaller after an out-of-memory retry).
    used = {(r['batch_requested'], r['dtype']): r.get('batch_size', r['batch_requested'])
            for r in jax_run.records if r.get('kind') == 'row'}
    torch_configs = ','.join(f'{used.get((b, d), b)}:{d}' for b, d in configs)
    torch_run = Worker([torch_py, '-m', 'benchmarks.torch_reference_bench', '--model', model, '--configs',
                        torch_configs, '--deadline', str(model_end)] + common, log).run(model_end)
    headers['torch'] = next((r for r in torch_run.records if r.get('kind') == 'header'), {})
  return merge(model, configs, jax_run, torch_run, torch_status, headers['jax']), headers


def _finite(value):
  """``value`` with NaN and infinities as None (strict JSON)."""
  if isinstance(value, float):
    return value if math.isfinite(value) else None
  if isinstance(value, dict):
    return {k: _finite(v) for k, v in value.items()}
  if isinstance(value, (list, tuple)):
    return [_finite(v) for v in value]
  return value


def _write_json(path: pathlib.Path, result: dict) -> None:
  tmp = path.with_suffix('.json.tmp')
  tmp.write_text(json.dumps(_finite(result), indent=2))
  os.replace(tmp, path)


def _nvidia_smi() -> str | None:
  if not shutil.which('nvidia-smi'):
    return None
  try:
    done = subprocess.run(['nvidia-smi', '-L'], capture_output=True, text=True, timeout=20, check=False)
    return done.stdout.strip()
  except (OSError, subprocess.SubprocessError) as e:
    return f'nvidia-smi failed: {e}'


def _parse_batches(text: str) -> dict[str, int]:
  sizes = dict(LARGE_BATCH)
  for item in filter(None, text.split(',')):
    name, value = item.split('=')
    sizes[name.strip()] = int(value)
  return sizes


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--models', default=','.join(MODELS), help='comma-separated subset of ' + ','.join(MODELS))
  parser.add_argument('--dtypes', default=','.join(DTYPES))
  parser.add_argument('--large_batch', default='', help="overrides of LARGE_BATCH, e.g. 'stgcn=512,posec3d=32'")
  parser.add_argument('--budget_s', type=float, default=None,
                      help='wall-clock seconds for all measurements (default 420; smoke 300)')
  parser.add_argument('--out_dir', default=None, help='default $OUT, else ./gpu_check_out')
  parser.add_argument('--smoke', action='store_true', help='CPU smoke run: tiny models, batch 2, 2 steps')
  # Worker mode (the driver starts it).
  parser.add_argument('--jax_worker', action='store_true', help=argparse.SUPPRESS)
  parser.add_argument('--configs', default='', help=argparse.SUPPRESS)
  parser.add_argument('--steps', type=int, default=None, help=argparse.SUPPRESS)
  parser.add_argument('--warmup', type=int, default=None, help=argparse.SUPPRESS)
  parser.add_argument('--deadline', type=float, default=None, help=argparse.SUPPRESS)
  args = parser.parse_args(argv)

  if args.jax_worker:
    jax_worker(args.models, parse_configs(args.configs), steps=args.steps, warmup=args.warmup,
               deadline=args.deadline, smoke=args.smoke)
    return 0

  models = [m.strip() for m in args.models.split(',') if m.strip()]
  dtypes = [d.strip() for d in args.dtypes.split(',') if d.strip()]
  if set(models) - set(MODELS) or not models:
    parser.error(f'--models: choose from {",".join(MODELS)}')
  if set(dtypes) - set(DTYPES) or not dtypes:
    parser.error(f'--dtypes: choose from {",".join(DTYPES)}')
  large_batch = _parse_batches(args.large_batch)
  budget = args.budget_s or (SMOKE['budget_s'] if args.smoke else 420.0)
  out_dir = pathlib.Path(args.out_dir or os.environ.get('OUT') or 'gpu_check_out')
  out_dir.mkdir(parents=True, exist_ok=True)
  start = time.time()
  torch_py, torch_status = torch_python()
  steps = {m: SMOKE['steps'] for m in MODELS} if args.smoke else STEPS
  warmup = SMOKE['warmup'] if args.smoke else WARMUP
  result = {'header': {
      'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
      'smoke': args.smoke, 'host': platform.node(), 'python': sys.executable, 'nvidia_smi': _nvidia_smi(),
      'budget_s': budget, 'torch_side': torch_status, 'reference_batch': REFERENCE_BATCH,
      'large_batch': {m: large_batch[m] for m in models}, 'steps': {m: steps[m] for m in models},
      'warmup': warmup,
      'notes': [
          'ratio = skeljax clips/s / MMAction2 clips/s at the batch the JAX side used.',
          'skeljax PoseC3D renders its [N, 1, 48, 56, 56, 17] heatmap volumes from keypoints inside the '
          'measured step; MMAction2 is fed ready volumes (it renders them on the host, outside the step).',
          'MMAction2 train step: model(x, data_samples, mode="loss") + parse_losses + the config\'s '
          'optim_wrapper.update_params; bfloat16 = torch.autocast over forward and loss; inference: '
          'mode="tensor" (logits).',
          'device_peak_mb (JAX): the process peak, which only grows; own peak when device_peak_is_own.',
          'torch *_mfu_xla_flops: MMAction2 clips/s times XLA\'s FLOP count of the same skeljax step.'],
      'wall_s': 0.0}, 'rows': []}
  json_path = out_dir / 'gpu_check.json'
  print(f'# gpu_check {"(smoke) " if args.smoke else ""}{result["header"]["date"]}, budget {budget:.0f} s; '
        f'results in {out_dir}', flush=True)
  if result['header']['nvidia_smi']:
    print(result['header']['nvidia_smi'], flush=True)
  print(f'# PyTorch side: {torch_status}', flush=True)

  with open(out_dir / 'gpu_check.log', 'a') as log:
    for i, model in enumerate(models):
      remaining = budget - (time.time() - start)
      model_end = time.time() + remaining * WEIGHT[model] / sum(WEIGHT[m] for m in models[i:])
      configs = model_configs(model, smoke=args.smoke, large_batch=large_batch, dtypes=dtypes)
      print(f'# {model}: {len(configs)} configurations, {model_end - time.time():.0f} s', flush=True)
      rows, headers = measure_model(model, configs, model_end=model_end, torch_py=torch_py,
                                    torch_status=torch_status, steps=steps[model], warmup=warmup,
                                    smoke=args.smoke, log=log)
      for side, side_header in headers.items():
        if side_header and not result['header'].get(side):
          result['header'][side] = side_header
      result['rows'] += rows
      result['header']['wall_s'] = time.time() - start
      _write_json(json_path, result)

  table = markdown(result)
  (out_dir / 'gpu_check.md').write_text(table)
  print('\n' + table, flush=True)
  print(f'wrote {json_path}, {out_dir / "gpu_check.md"}, {out_dir / "gpu_check.log"} '
        f'({result["header"]["wall_s"]:.0f} s)', flush=True)
  return 0


if __name__ == '__main__':
  sys.exit(main())
