r"""MMAction2 1.2.0's skeleton recognizers in PyTorch eager: the reference side of ``benchmarks.gpu_check``.

    python -m benchmarks.torch_reference_bench --model posec3d --configs 16:float32,64:bfloat16
    python -m benchmarks.torch_reference_bench --patch_installed_mmaction /tmp/site   # once, after installing

Needs torch and mmaction2 1.2.0 with mmengine and mmcv (mmcv-lite 2.1.0 will do). Builds ST-GCN, 2s-AGCN
(AAGCN) or PoseC3D from the config files the mmaction2 wheel ships (``CONFIGS``, the NTU60 X-Sub ones that
``configs/{stgcn,agcn,posec3d}_ntu60.py`` reproduce), calls ``init_weights()`` as mmengine's runner does, and
times on random inputs already in the recognizers' layout (GCN ``[N, 1, 2, 100, 25, 3]``, PoseC3D heatmap
volumes ``[N, 1, 17, 48, 56, 56]``, which MMAction2 renders on the host before the step):

  * a train step as mmengine's runner makes it: ``model(x, data_samples, mode='loss')``, ``parse_losses``,
    ``optim_wrapper.update_params`` (backward, the config's gradient clipping, its SGD step, zero_grad).
    bfloat16: forward and loss under ``torch.autocast(dtype=torch.bfloat16)`` with float32 weights, which is
    mmengine's ``AmpOptimWrapper(dtype='bfloat16')`` without the loss scaler that bfloat16 does not need, and
    with the head's scores returned in float32 (MMAction2's top-k accuracy fails on bfloat16 tensors);
  * inference: ``model.eval()``, ``torch.inference_mode()``, ``model(x, mode='tensor')`` (the logits).

Clips/s from the median step time, each step synchronised; peak memory is ``torch.cuda.max_memory_allocated``
since the model was built. cuDNN autotuning follows the config's ``env_cfg.cudnn_benchmark`` (False in
MMAction2's default runtime) unless ``--cudnn_benchmark``. An out-of-memory error halves the batch. Prints
one ``GPU_CHECK {...}`` line per configuration (the driver's protocol).
"""

from __future__ import annotations

import argparse
import functools
import gc
import pathlib
import platform
import re
import statistics
import sys
import time
import types
import warnings

from benchmarks.gpu_check import emit, error_text, halve_on_oom, parse_configs

CONFIGS = {
    'stgcn': 'skeleton/stgcn/stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py',
    'aagcn': 'skeleton/2s-agcn/2s-agcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d.py',
    'posec3d': 'skeleton/posec3d/slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint.py',
}
GCN_CLIP = (2, 100, 25, 3)  # persons, frames, joints, coordinates
POSEC3D_CLIP = (17, 48, 56, 56)  # keypoint channels, frames, height, width
SMOKE_CLIPS = {'gcn': (2, 8, 25, 3), 'posec3d': (17, 8, 32, 32)}  # the JAX smoke run's sizes
# mmaction2 1.2.0's wheel (and sdist) import a temporal-grounding localizer they do not ship.
_DRN_IMPORT = re.compile(r'^from \.drn\.drn import DRN$', re.MULTILINE)


def patch_installed_mmaction(site: str) -> str:
  """Makes the installed mmaction2's import of the missing ``localizers/drn`` optional; says what it did."""
  init = pathlib.Path(site, 'mmaction', 'models', 'localizers', '__init__.py')
  text = init.read_text()
  if (init.parent / 'drn').is_dir() or not _DRN_IMPORT.search(text):
    return f'{init}: nothing to patch'
  guarded = ('try:  # not in the mmaction2 1.2.0 wheel; no skeleton model uses it\n'
             '    from .drn.drn import DRN\n'
             'except ImportError:\n'
             '    DRN = None')
  init.write_text(_DRN_IMPORT.sub(guarded, text, count=1))
  return f'{init}: DRN import made optional'


def _import_mmaction():
  """Imports mmaction2 with its models registered; stands in for the missing DRN module if unpatched."""
  import importlib.util  # pylint: disable=import-outside-toplevel
  spec = importlib.util.find_spec('mmaction')
  if spec is None:
    raise ImportError('mmaction2 is not installed')
  localizers = pathlib.Path(spec.origin).parent / 'models' / 'localizers'
  if not (localizers / 'drn').is_dir() and _DRN_IMPORT.search((localizers / '__init__.py').read_text()):
    for name in ('mmaction.models.localizers.drn', 'mmaction.models.localizers.drn.drn'):
      stub = types.ModuleType(name)
      stub.__path__, stub.DRN = [], None
      sys.modules[name] = stub
  import mmaction  # pylint: disable=import-outside-toplevel
  from mmaction.utils import register_all_modules  # pylint: disable=import-outside-toplevel
  register_all_modules(init_default_scope=True)
  return mmaction


def _median_step_s(step_fn, steps: int, warmup: int, sync_fn) -> float:
  for _ in range(warmup):
    step_fn()
  sync_fn()
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    step_fn()
    sync_fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def measure(model_name: str, batch_size: int, *, dtype: str, steps: int, warmup: int, smoke: bool,
            cudnn_benchmark: bool | None) -> dict:
  """Train-step and inference clips/s (and peak memory on CUDA) of one recognizer configuration."""
  import torch  # pylint: disable=import-outside-toplevel
  from mmaction.registry import MODELS  # pylint: disable=import-outside-toplevel
  from mmaction.structures import ActionDataSample  # pylint: disable=import-outside-toplevel
  from mmengine.config import Config  # pylint: disable=import-outside-toplevel
  from mmengine.optim import build_optim_wrapper  # pylint: disable=import-outside-toplevel

  import mmaction  # pylint: disable=import-outside-toplevel
  path = pathlib.Path(mmaction.__file__).parent / '.mim' / 'configs' / CONFIGS[model_name]
  cfg = Config.fromfile(str(path))
  device = torch.device('cuda' if torch.cuda.is_available() else 'cpu')
  benchmark = cfg.get('env_cfg', {}).get('cudnn_benchmark', False) if cudnn_benchmark is None else cudnn_benchmark
  torch.backends.cudnn.benchmark = bool(benchmark)
  if device.type == 'cuda':
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
  sync = torch.cuda.synchronize if device.type == 'cuda' else (lambda: None)

  torch.manual_seed(0)
  model = MODELS.build(cfg.model)
  model.init_weights()
  model.to(device)
  num_classes = cfg.model.cls_head.num_classes
  if model_name == 'posec3d':
    clip = SMOKE_CLIPS['posec3d'] if smoke else POSEC3D_CLIP
    x = torch.rand((batch_size, 1) + clip, device=device)
  else:
    clip = SMOKE_CLIPS['gcn'] if smoke else GCN_CLIP
    x = torch.randn((batch_size, 1) + clip, device=device)
  # On the device, where MMAction2's data preprocessor puts them.
  samples = [ActionDataSample().set_gt_label(i % num_classes).to(device) for i in range(batch_size)]
  optim_wrapper = build_optim_wrapper(model, cfg.optim_wrapper)
  if dtype == 'bfloat16':
    # MMAction2 1.2.0's head turns the scores into numpy for its top-k accuracy, which has no bfloat16: take
    # them in float32 (autocast runs the cross-entropy in float32 anyway).
    model.cls_head.register_forward_hook(lambda module, inputs, output: output.float())
  autocast = functools.partial(torch.autocast, device.type, dtype=torch.bfloat16, enabled=dtype == 'bfloat16')

  def train_step():
    with autocast():
      losses = model(x, samples, mode='loss')
    loss, _ = model.parse_losses(losses)
    optim_wrapper.update_params(loss)

  def infer_step():
    with autocast():
      model(x, mode='tensor')

  result = {'batch_size': batch_size, 'compute_dtype': dtype, 'config': CONFIGS[model_name],
            'input_shape': list(x.shape), 'cudnn_benchmark': bool(benchmark)}
  model.train()
  result['train_step_s'] = _median_step_s(train_step, steps, warmup, sync)
  model.eval()
  with torch.inference_mode():
    result['infer_step_s'] = _median_step_s(infer_step, steps, warmup, sync)
  result['train_clips_per_s'] = batch_size / result['train_step_s']
  result['infer_clips_per_s'] = batch_size / result['infer_step_s']
  if device.type == 'cuda':
    result['device_peak_mb'] = torch.cuda.max_memory_allocated() / 2**20
    result['device_reserved_peak_mb'] = torch.cuda.max_memory_reserved() / 2**20
  return result


def _release() -> None:
  import torch  # pylint: disable=import-outside-toplevel
  gc.collect()
  if torch.cuda.is_available():
    torch.cuda.empty_cache()


def header() -> dict:
  import mmcv  # pylint: disable=import-outside-toplevel
  import mmengine  # pylint: disable=import-outside-toplevel
  import torch  # pylint: disable=import-outside-toplevel
  mmaction = _import_mmaction()
  cuda = torch.cuda.is_available()
  return {'kind': 'header', 'side': 'torch', 'torch': torch.__version__, 'mmaction2': mmaction.__version__,
          'mmengine': mmengine.__version__, 'mmcv': mmcv.__version__, 'python': platform.python_version(),
          'device': torch.cuda.get_device_name(0) if cuda else 'cpu', 'cuda': torch.version.cuda,
          'cudnn': torch.backends.cudnn.version() if cuda else None,
          'cudnn_allow_tf32': torch.backends.cudnn.allow_tf32,
          'matmul_allow_tf32': torch.backends.cuda.matmul.allow_tf32,
          'threads': torch.get_num_threads()}


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--model', choices=sorted(CONFIGS))
  parser.add_argument('--configs', default='16:float32', help="batch:dtype pairs, e.g. '16:float32,64:bfloat16'")
  parser.add_argument('--steps', type=int, default=10)
  parser.add_argument('--warmup', type=int, default=3)
  parser.add_argument('--deadline', type=float, default=float('inf'), help='epoch seconds; later configs skip')
  parser.add_argument('--smoke', action='store_true', help='the smoke run\'s small clips (CPU)')
  parser.add_argument('--cudnn_benchmark', action='store_true', default=None,
                      help="cuDNN autotuning on (default: the config's env_cfg, False)")
  parser.add_argument('--patch_installed_mmaction', metavar='SITE', default=None,
                      help='only patch the mmaction2 installed under SITE, then exit')
  args = parser.parse_args(argv)
  if args.patch_installed_mmaction:
    print(patch_installed_mmaction(args.patch_installed_mmaction))
    return 0
  if not args.model:
    parser.error('--model is required')
  warnings.filterwarnings('ignore')
  emit(header())
  from mmengine.logging import MMLogger  # pylint: disable=import-outside-toplevel
  MMLogger.get_instance('torch_reference_bench', log_level='WARNING')  # no per-parameter init_weights lines
  for batch, dtype in parse_configs(args.configs):
    row = {'kind': 'row', 'side': 'torch', 'model': args.model, 'dtype': dtype, 'batch_requested': batch}
    if time.time() >= args.deadline:
      emit(dict(row, status='skipped', reason='time budget spent before this configuration'))
      continue
    start = time.time()
    try:
      result, failed = halve_on_oom(
          functools.partial(measure, args.model, dtype=dtype, steps=args.steps, warmup=args.warmup,
                            smoke=args.smoke, cudnn_benchmark=args.cudnn_benchmark), batch, cleanup_fn=_release)
      row.update(result, status='ok')
      if failed:
        row['oom_batch_sizes'] = failed
    except Exception as e:  # noqa: BLE001 - recorded; the next configuration still runs
      row.update(status='error', error=error_text(e))
    row['wall_s'] = time.time() - start
    emit(row)
    _release()
  return 0


if __name__ == '__main__':
  sys.exit(main())
