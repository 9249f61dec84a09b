"""``benchmarks/gpu_check.sh`` in its CPU smoke mode, so that the GPU check is ready when a GPU is at hand.

The JAX side always runs (the three models shrunk, float32 and bfloat16). The PyTorch side (MMAction2 1.2.0)
runs in the Python named by SKELJAX_TORCH_PYTHON (e.g. an MMAction2 environment); without it, and
without torch and mmaction in this interpreter, every row must say that side is not available.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import pathlib
import subprocess
import sys

import pytest

from benchmarks import gpu_check, torch_reference_bench

REPO = pathlib.Path(__file__).resolve().parents[1]

MODELS = ('stgcn', 'aagcn', 'posec3d')
DTYPES = ('bfloat16', 'float32')


def _positive(value) -> bool:
  return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.parametrize('dtypes', [
    ('bfloat16',),  # the fast tier: bfloat16, the GPU's dtype and the PyTorch side's autocast path
    pytest.param(DTYPES, marks=pytest.mark.slow),
])
def test_smoke_run_writes_both_sides(tmp_path, dtypes):
  # GPU_CHECK_SITE: where the script installs .whl/'s wheels, if this checkout has them (make gpu-wheels).
  env = dict(os.environ, OUT=str(tmp_path / 'out'), PYTHON=sys.executable, GPU_CHECK_SITE=str(tmp_path / 'site'))
  torch_expected = bool(env.get(gpu_check.TORCH_PYTHON_ENV, '').strip()) or all(
      importlib.util.find_spec(m) is not None for m in ('torch', 'mmaction'))
  done = subprocess.run(['bash', 'benchmarks/gpu_check.sh', '--smoke', '--dtypes', ','.join(dtypes)], cwd=REPO,
                        env=env, capture_output=True, text=True, timeout=600, check=False)
  assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
  out = tmp_path / 'out'
  result = json.loads((out / 'gpu_check.json').read_text())
  assert result['header']['smoke'] and result['header']['jax']['platform'] == 'cpu'
  rows = {(r['model'], r['dtype']): r for r in result['rows']}
  assert sorted(rows) == sorted((m, d) for m in MODELS for d in dtypes)
  for (model, dtype), row in rows.items():
    jax_side = row['jax']
    assert jax_side['status'] == 'ok', (model, dtype, jax_side)
    assert jax_side['compute_dtype'] == dtype and jax_side['batch_size'] == row['batch_requested']
    for key in ('train_clips_per_s', 'infer_clips_per_s', 'train_step_gflop', 'infer_gflop'):
      assert _positive(jax_side[key]), (model, dtype, key, jax_side[key])
    torch_side = row['torch']
    if torch_expected:
      assert torch_side['status'] == 'ok', (model, dtype, torch_side)
      assert _positive(torch_side['train_clips_per_s']) and _positive(torch_side['infer_clips_per_s'])
      assert _positive(row['train_ratio']) and _positive(row['infer_ratio'])
    else:
      assert torch_side['status'] == 'not available'
      assert 'torch side not available' in torch_side['reason']
      assert gpu_check.TORCH_PYTHON_ENV in torch_side['reason']
      assert row['train_ratio'] is None and row['infer_ratio'] is None
  table = (out / 'gpu_check.md').read_text()
  assert table.count('\n| ') == len(rows) + 1 and table in done.stdout
  assert 'GPU_CHECK ' in (out / 'gpu_check.log').read_text()


def _oom(batch_size):
  raise RuntimeError(f'RESOURCE_EXHAUSTED: Out of memory while trying to allocate (batch {batch_size})')


def test_halve_on_oom():
  def measure(batch_size):
    return {'batch_size': batch_size} if batch_size <= 64 else _oom(batch_size)

  assert gpu_check.halve_on_oom(measure, 256) == ({'batch_size': 64}, [256, 128])
  assert gpu_check.halve_on_oom(measure, 16) == ({'batch_size': 16}, [])
  with pytest.raises(RuntimeError, match='RESOURCE_EXHAUSTED'):
    gpu_check.halve_on_oom(_oom, 4)
  with pytest.raises(ValueError):
    gpu_check.halve_on_oom(lambda b: (_ for _ in ()).throw(ValueError('not memory')), 8)
  assert gpu_check.is_out_of_memory(type('OutOfMemoryError', (RuntimeError,), {})('CUDA'))


class _Run:
  def __init__(self, records, stop_reason=None):
    self.records, self.stop_reason = records, stop_reason


def test_merge_keeps_a_partial_result():
  """A JAX worker stopped after one configuration, a PyTorch side at the batch the JAX side fell back to."""
  configs = [(16, 'bfloat16'), (16, 'float32'), (256, 'bfloat16')]
  jax_row = dict(kind='row', side='jax', model='stgcn', dtype='bfloat16', batch_requested=16, batch_size=16,
                 status='ok', train_clips_per_s=300.0, infer_clips_per_s=900.0, train_step_gflop=16 * 33.0,
                 infer_gflop=16 * 11.0, train_mfu=0.2, infer_mfu=0.1, device_peak_mb=900.0,
                 device_peak_is_own=True)
  torch_row = dict(kind='row', side='torch', model='stgcn', dtype='bfloat16', batch_requested=16, batch_size=16,
                   status='ok', train_clips_per_s=100.0, infer_clips_per_s=450.0, device_peak_mb=1200.0)
  header = {'peak_flops': {'bfloat16': 989e12, 'float32': 495e12}}
  rows = gpu_check.merge('stgcn', configs, _Run([jax_row], 'worker stopped at its deadline after 80 s'),
                         _Run([torch_row]), 'python3', header)
  assert [r['jax']['status'] for r in rows] == ['ok', 'not run', 'not run']
  assert rows[1]['jax']['reason'] == 'worker stopped at its deadline after 80 s'
  assert rows[0]['train_ratio'] == pytest.approx(3.0) and rows[0]['infer_ratio'] == pytest.approx(2.0)
  assert rows[0]['torch']['train_mfu_xla_flops'] == pytest.approx(33e9 * 100 / 989e12)
  assert rows[1]['torch']['status'] == 'not run' and rows[1]['train_ratio'] is None
  table = gpu_check.markdown({'header': {'date': 'today', 'smoke': False, 'wall_s': 1.0, 'jax': {}},
                              'rows': rows})
  assert '| stgcn | bfloat16 | 16 | 300.0 / 100.0 | 3.00x | 900.0 / 450.0 | 2.00x | 20.0% / 10.0% |' in table
  assert '| stgcn | float32 | 16 | not run / not run | – |' in table


def test_patch_installed_mmaction(tmp_path):
  init = tmp_path / 'mmaction' / 'models' / 'localizers' / '__init__.py'
  init.parent.mkdir(parents=True)
  init.write_text('from .bmn import BMN\nfrom .drn.drn import DRN\nfrom .tcanet import TCANet\n')
  assert 'made optional' in torch_reference_bench.patch_installed_mmaction(str(tmp_path))
  text = init.read_text()
  assert 'except ImportError:' in text and text.startswith('from .bmn import BMN\ntry:')
  compile(text, str(init), 'exec')
  assert 'nothing to patch' in torch_reference_bench.patch_installed_mmaction(str(tmp_path))
  assert init.read_text() == text
