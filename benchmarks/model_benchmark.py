"""Model throughput: train step and inference clips/s, FLOPs, memory, for every model family of the zoo.

    python -m benchmarks.model_benchmark --models=stgcn,aagcn,posec3d --batch_size=16 --steps=10

Runs skeljax's own jitted ``train_step`` / ``eval_step`` (skeljax/train.py) built from the model-zoo configs,
so the numbers are what training gets. The GCNs (ST-GCN, 2s-AGCN (AAGCN), ST-GCN++, CTR-GCN, MS-G3D,
DG-STGCN) run their NTU60 X-Sub 3D joint configs on ``[N, 1, 2, 100, 25, 3]`` (NTU-25 3D, 100 frames,
2 persons); ``stgcn_nwucla`` is ST-GCN on the NW-UCLA shape ``[N, 1, 1, 52, 20, 3]``. PoseC3D runs
``configs/posec3d_ntu60.py``, whose step renders the ``[N, 1, 48, 56, 56, 17]`` heatmap volumes on the device
from keypoints (the rendering is inside the measured step) after the host pipeline (UniformSampleFrames ...
PackPoseKeypoints), which is timed on its own on one CPU core; ``posec3d_volume`` is the same network fed
ready volumes (its ``host_heatmap`` variant), the figure to hold against a framework that renders them on the
host. Random data: throughput does not depend on values.

Clips/s come from the median time of one step (each step waited for), over ``--steps`` steps after
``--warmup`` untimed ones, as the MMAction2 measuring script reports its iterations; the mean is kept too.

FLOPs are XLA's cost analysis of the compiled step; model FLOPs utilisation (MFU) is printed when the
device's dense peak is known (GPUs below); CPUs get none. Memory: the accelerator's peak bytes in use when
it reports them, else XLA's buffer plan of the compiled step (arguments + outputs + temporaries) and the
process's peak RSS. ``--with_cp`` turns on the models' activation recomputation (``with_cp``: less memory, more
compute; skeljax/models/recompute.py).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import resource
import sys
import time

import jax
import numpy as np

# Dense bf16 / fp32 (TF32 tensor core where used by XLA) peak FLOP/s per device, from the vendors' data sheets.
PEAK_FLOPS = {
    'H100': {'bfloat16': 989e12, 'float32': 495e12},   # SXM: 989 TF bf16 dense, 495 TF tf32 dense
    'H200': {'bfloat16': 989e12, 'float32': 495e12},
    'A100': {'bfloat16': 312e12, 'float32': 156e12},
}
NTU_CLIP = (2, 100, 25, 3)  # persons, frames, joints, coordinates of one GCN clip
MODELS = {
    # name -> (config module, variant, GCN clip shape; PoseC3D's comes from its config)
    'stgcn': ('configs.stgcn_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'aagcn': ('configs.agcn_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'stgcnpp': ('configs.stgcnpp_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'ctrgcn': ('configs.ctrgcn_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'msg3d': ('configs.msg3d_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'dgstgcn': ('configs.dgstgcn_ntu60', 'xsub,joint,3d', NTU_CLIP),
    'stgcn_nwucla': ('configs.stgcn_nwucla', 'joint', (1, 52, 20, 3)),
    'posec3d': ('configs.posec3d_ntu60', 'xsub,keypoint', None),
    'posec3d_volume': ('configs.posec3d_ntu60', 'xsub,keypoint,host_heatmap', None),
}


def device_description() -> str:
  dev = jax.devices()[0]
  if dev.platform == 'cpu':
    model = 'unknown CPU'
    try:
      with open('/proc/cpuinfo') as f:
        model = next(line.split(':', 1)[1].strip() for line in f if line.startswith('model name'))
    except (OSError, StopIteration):
      pass
    return f'CPU: {model}, {os.cpu_count()} logical cores, {jax.device_count()} JAX device(s)'
  return f'{jax.device_count()} x {dev.device_kind}'


def peak_flops(dtype: str) -> float | None:
  dev = jax.devices()[0]
  if dev.platform != 'gpu':
    return None
  for key, peaks in PEAK_FLOPS.items():
    if key in dev.device_kind:
      return peaks[dtype]
  return None


def random_batch(cfg, batch_size: int, rng: np.random.Generator,
                 clip_shape: tuple[int, ...] | None = NTU_CLIP) -> dict[str, np.ndarray]:
  """A batch as the configured train pipeline packs it (PoseC3D: keypoints for the device renderer, or the
  ``[N, 1, T, H, W, 17]`` volumes when the config renders them on the host)."""
  labels = rng.integers(0, cfg.model.num_classes, size=(batch_size,)).astype(np.int32)
  if cfg.model.name == 'posec3d' and not cfg.get('device_heatmap'):
    clip_len = cfg.train_pipeline[0]['clip_len']
    width, height = [op['scale'] for op in cfg.train_pipeline if op['type'] == 'Resize'][-1]
    x = rng.uniform(0, 1, size=(batch_size, 1, clip_len, height, width, cfg.model.backbone.in_channels))
    return {'inputs': x.astype(np.float32), 'label': labels}
  if cfg.model.name == 'posec3d':
    size = cfg.device_heatmap.height
    num_person = cfg.train_pipeline[-1]['num_person']
    clip_len = cfg.train_pipeline[0]['clip_len']
    kp = rng.uniform(4, size - 4, size=(batch_size, 1, num_person, clip_len, 17, 2)).astype(np.float32)
    score = rng.uniform(0.3, 1.0, size=kp.shape[:-1]).astype(np.float32)
    return {'keypoint': kp, 'keypoint_score': score, 'label': labels,
            'img_shape': np.full((batch_size, 2), size, np.int32)}
  x = rng.normal(size=(batch_size, 1, *clip_shape)).astype(np.float32)
  return {'inputs': x, 'label': labels}


def host_pipeline_rate(cfg, seconds: float = 3.0) -> float:
  """Clips/s of the PoseC3D host pipeline (sampling, geometry, packing) on one core, on synthetic 2D clips."""
  from skeljax.data import synthetic  # pylint: disable=g-import-not-at-top
  from skeljax.data.pipeline import build_pipeline  # pylint: disable=g-import-not-at-top
  rng = np.random.default_rng(0)
  records = [synthetic.generate_clip(i % len(synthetic.ACTIONS), rng, edition='coco17_2d',
                                     frame_dir=f'bench_{i}', min_frames=60, max_frames=150) for i in range(16)]
  pipeline = build_pipeline(cfg.train_pipeline)
  count, start = 0, time.perf_counter()
  while time.perf_counter() - start < seconds:
    pipeline(records[count % len(records)], rng=rng)
    count += 1
  return count / (time.perf_counter() - start)


def _flops(compiled) -> float | None:
  cost = compiled.cost_analysis()
  if isinstance(cost, (list, tuple)):
    cost = cost[0] if cost else None
  return float(cost['flops']) if cost and 'flops' in cost else None


def _memory_plan(compiled) -> int | None:
  analysis = compiled.memory_analysis()
  if analysis is None:
    return None
  return int(analysis.argument_size_in_bytes + analysis.output_size_in_bytes + analysis.temp_size_in_bytes
             - analysis.alias_size_in_bytes)


def _step_times(fn, steps: int) -> list[float]:
  """Seconds of each of ``steps`` calls of ``fn``, each waited for."""
  times = []
  for _ in range(steps):
    start = time.perf_counter()
    jax.block_until_ready(fn())
    times.append(time.perf_counter() - start)
  return times


def _throughput(result: dict, prefix: str, fn, steps: int, warmup: int, batch_size: int) -> None:
  """Clips/s from the median step time into ``result[prefix + '_clips_per_s']`` (and the mean's figure)."""
  _step_times(fn, warmup)
  times = _step_times(fn, steps)
  result[f'{prefix}_step_s'] = float(np.median(times))
  result[f'{prefix}_clips_per_s'] = batch_size / float(np.median(times))
  result[f'{prefix}_clips_per_s_mean'] = batch_size * len(times) / float(np.sum(times))


def enable_recompute(model_cfg) -> None:
  """Sets ``with_cp`` in a ``cfg.model`` block (the backbone's for PoseC3D); a model without it is an error."""
  target = model_cfg.backbone if 'backbone' in model_cfg else model_cfg
  if 'with_cp' not in target:
    raise ValueError(f'model {model_cfg.name!r} has no with_cp option')
  target.with_cp = True


def benchmark_model(name: str, batch_size: int, steps: int, warmup: int, dtype: str,
                    with_cp: bool = False) -> dict:
  """Train-step and inference throughput of one zoo model at its reference input shape."""
  from skeljax import runtime, sharding, train  # pylint: disable=g-import-not-at-top
  module, variant, clip_shape = MODELS[name]
  cfg = importlib.import_module(module).get_config(variant)
  cfg.compute_dtype = dtype
  if with_cp:
    enable_recompute(cfg.model)
  mesh = sharding.make_mesh()
  rng = np.random.default_rng(0)
  batch = sharding.shard_batch(random_batch(cfg, batch_size, rng, clip_shape), mesh)
  result = {'model': name, 'config': f'{module.split(".")[1]}.py:{variant}', 'batch_size': batch_size,
            'compute_dtype': dtype, 'with_cp': with_cp}

  step_cfg = train.make_step_config(cfg, steps_per_epoch=1000)
  state = train.create_train_state(cfg.model, step_cfg.tx, cfg.seed, mesh)
  p_train = train.jit_train_step(step_cfg, mesh, state)
  start = time.perf_counter()
  compiled = p_train.lower(state, batch).compile()
  result['train_compile_s'] = time.perf_counter() - start
  runtime.release_free_memory()  # as the training loop does after compiling
  holder = {'state': state}

  def train_once():
    holder['state'], metrics = compiled(holder['state'], batch)
    return metrics['loss']

  _throughput(result, 'train', train_once, steps, warmup, batch_size)
  # After the timed steps: XLA's cost analysis keeps ~70 MB (AAGCN) that a training run does not hold.
  result['train_step_gflop'] = (_flops(compiled) or float('nan')) / 1e9
  result['train_memory_plan_mb'] = (_memory_plan(compiled) or 0) / 2**20

  eval_cfg = train.make_step_config(cfg, steps_per_epoch=1000, eval_mode=True)
  p_eval = train.jit_eval_step(eval_cfg, mesh, holder['state'])
  # As the training loop before its first evaluation: the train step's retained buffers go back to the OS
  # before the compiler's memory is added to them.
  runtime.release_free_memory()
  compiled_eval = p_eval.lower(holder['state'], batch).compile()
  runtime.release_free_memory()
  _throughput(result, 'infer', lambda: compiled_eval(holder['state'], batch), steps, warmup, batch_size)
  result['infer_gflop'] = (_flops(compiled_eval) or float('nan')) / 1e9

  stats = jax.devices()[0].memory_stats() or {}
  if 'peak_bytes_in_use' in stats:
    result['device_peak_mb'] = stats['peak_bytes_in_use'] / 2**20
  peak = peak_flops(dtype)
  if peak and result['train_step_gflop'] == result['train_step_gflop']:
    step_flops = result['train_step_gflop'] * 1e9 / batch_size
    result['train_mfu'] = step_flops * result['train_clips_per_s'] / (peak * jax.device_count())
    result['infer_mfu'] = (result['infer_gflop'] * 1e9 / batch_size * result['infer_clips_per_s']
                           / (peak * jax.device_count()))
  if name == 'posec3d':
    result['host_pipeline_clips_per_s_per_core'] = host_pipeline_rate(cfg)
  return result


def main(argv=None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--models', default='stgcn,aagcn,posec3d', help='comma-separated: ' + ','.join(MODELS))
  parser.add_argument('--batch_size', type=int, default=16)
  parser.add_argument('--steps', type=int, default=10, help='timed steps per measurement')
  parser.add_argument('--warmup', type=int, default=2, help='untimed steps after compilation')
  parser.add_argument('--dtype', default='float32', choices=('float32', 'bfloat16'))
  parser.add_argument('--with_cp', action='store_true', help="recompute activations in the backward pass")
  parser.add_argument('--json', default=None, help='also write the results to this JSON file')
  args = parser.parse_args(argv)
  names = [n.strip() for n in args.models.split(',') if n.strip()]
  unknown = [n for n in names if n not in MODELS]
  if unknown:
    parser.error(f'unknown models {unknown}; choose from {sorted(MODELS)}')

  from skeljax import runtime  # pylint: disable=g-import-not-at-top
  runtime.set_cpu_compiler_options()  # as the training command does (skeljax/runtime.py)
  runtime.run_cpu_steps_inline()
  header = {'date': datetime.datetime.now(datetime.timezone.utc).isoformat(timespec='seconds'),
            'device': device_description(), 'jax': jax.__version__, 'python': platform.python_version()}
  print(f'# {header["date"]}  {header["device"]}  jax {header["jax"]}')
  rows = []
  for name in names:
    row = benchmark_model(name, args.batch_size, args.steps, args.warmup, args.dtype, args.with_cp)
    rows.append(row)
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in row.items()}))
  header['peak_rss_mb'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
  print('\n| model | batch | train clips/s | infer clips/s | train GFLOP/clip | infer GFLOP/clip | '
        'train buffers MB | MFU train/infer |')
  print('|---|---:|---:|---:|---:|---:|---:|---|')
  for r in rows:
    mfu = (f'{100 * r["train_mfu"]:.1f}% / {100 * r["infer_mfu"]:.1f}%' if 'train_mfu' in r else 'n/a (CPU)'
           if jax.devices()[0].platform == 'cpu' else 'unknown peak')
    print(f'| {r["model"]} | {r["batch_size"]} | {r["train_clips_per_s"]:.1f} | {r["infer_clips_per_s"]:.1f} | '
          f'{r["train_step_gflop"] / r["batch_size"]:.2f} | {r["infer_gflop"] / r["batch_size"]:.2f} | '
          f'{r.get("device_peak_mb", r["train_memory_plan_mb"]):.0f} | {mfu} |')
  print(f'\nprocess peak RSS {header["peak_rss_mb"]:.0f} MB')
  if args.json:
    with open(args.json, 'w') as f:
      json.dump({'header': header, 'results': rows}, f, indent=2)
  return 0


if __name__ == '__main__':
  sys.exit(main())
