"""Heatmap-volume throughput: MMAction2's per-item loop vs our numpy transform vs the jitted JAX renderer.

    python -m benchmarks.heatmap_benchmark --iters=5 --batch=8

Reference shape: 2 persons, 48 frames, 56 x 56, 17 keypoints (and the 17 COCO limbs). Clips are a COCO
skeleton about 40 px tall walking through the frame, with a few low-score joints, so limb windows have
realistic sizes. Prints one table row per implementation and mode, in clips per second.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import jax
import jax.numpy as jnp
import numpy as np

from skeljax.data.heatmap import COCO_LIMBS, GeneratePoseTarget
from skeljax.data.heatmap_jax import generate_pose_target

# A standing COCO-17 pose in a unit box (x right, y down).
_POSE = np.array([[.50, .08], [.54, .05], [.46, .05], [.58, .07], [.42, .07], [.64, .22], [.36, .22],
                  [.70, .40], [.30, .40], [.72, .56], [.28, .56], [.60, .56], [.40, .56], [.62, .78],
                  [.38, .78], [.63, .98], [.37, .98]], np.float32)


def synthetic_clip(rng: np.random.Generator, num_person=2, num_frame=48, size=56):
  """Keypoints `[M, T, 17, 2]` and scores `[M, T, 17]` of people moving across a size x size frame."""
  t = np.arange(num_frame, dtype=np.float32)[:, None, None] / num_frame
  kp, score = [], []
  for _ in range(num_person):
    height = rng.uniform(0.55, 0.75) * size
    origin = rng.uniform(0, size - height, size=2) + np.float32([height * 0.3, 0]) * t.squeeze(-1)
    wobble = rng.normal(0, 0.6, size=(num_frame, 17, 2))
    kp.append(_POSE * height + origin[:, None, :] + wobble)
    score.append(np.clip(rng.normal(0.8, 0.2, size=(num_frame, 17)), 0, 1))
  return np.stack(kp).astype(np.float32), np.stack(score).astype(np.float32)


def reference_loop(keypoint, score, size, with_limb, sigma=0.6, eps=1e-4):
  """MMAction2's algorithm as it runs there: one numpy patch per (frame, channel, person)."""
  num_person, num_frame, num_joint = keypoint.shape[:3]
  out = np.zeros((num_frame, len(COCO_LIMBS) if with_limb else num_joint, size, size), np.float32)

  def window(lo, hi):
    return max(int(lo - 3 * sigma), 0), min(int(hi + 3 * sigma) + 1, size)

  def draw(arr, x0, x1, y0, y1, patch):
    arr[y0:y1, x0:x1] = np.maximum(arr[y0:y1, x0:x1], patch)

  for t in range(num_frame):
    for c in range(out.shape[1]):
      for m in range(num_person):
        if not with_limb:
          (mx, my), s = keypoint[m, t, c], score[m, t, c]
          (x0, x1), (y0, y1) = window(mx, mx), window(my, my)
          if s < eps or x1 <= x0 or y1 <= y0:
            continue
          x, y = np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)[:, None]
          draw(out[t, c], x0, x1, y0, y1, np.exp(-((x - mx) ** 2 + (y - my) ** 2) / 2 / sigma ** 2) * s)
          continue
        ia, ib = COCO_LIMBS[c]
        a, b = keypoint[m, t, ia], keypoint[m, t, ib]
        value = min(score[m, t, ia], score[m, t, ib])
        (x0, x1), (y0, y1) = window(min(a[0], b[0]), max(a[0], b[0])), window(min(a[1], b[1]), max(a[1], b[1]))
        if value < eps or x1 <= x0 or y1 <= y0:
          continue
        x, y = np.arange(x0, x1, dtype=np.float32), np.arange(y0, y1, dtype=np.float32)[:, None]
        d2_a = (x - a[0]) ** 2 + (y - a[1]) ** 2
        d2_b = (x - b[0]) ** 2 + (y - b[1]) ** 2
        d2_ab = (a[0] - b[0]) ** 2 + (a[1] - b[1]) ** 2
        proj = (d2_a - d2_b + d2_ab) / 2. / max(d2_ab, 1e-6)
        d2_line = (x - (a[0] + proj * (b[0] - a[0]))) ** 2 + (y - (a[1] + proj * (b[1] - a[1]))) ** 2
        d2 = np.where(proj <= 0, d2_a, np.where(proj >= 1, d2_b, d2_line))
        draw(out[t, c], x0, x1, y0, y1, np.exp(-d2 / 2. / sigma ** 2) * value)
  return out


def _rate(fn, clips: int, iters: int) -> float:
  fn()  # warm-up / compile
  start = time.perf_counter()
  for _ in range(iters):
    fn()
  return clips * iters / (time.perf_counter() - start)


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--iters', type=int, default=5)
  parser.add_argument('--batch', type=int, default=8, help='clips per jitted JAX call')
  parser.add_argument('--size', type=int, default=56)
  parser.add_argument('--frames', type=int, default=48)
  args = parser.parse_args(argv)

  rng = np.random.default_rng(0)
  clips = [synthetic_clip(rng, num_frame=args.frames, size=args.size) for _ in range(args.batch)]
  kp0, score0 = clips[0]
  batch_kp = jnp.asarray(np.stack([c[0] for c in clips])[:, None])  # [N, 1, M, T, V, 2]
  batch_score = jnp.asarray(np.stack([c[1] for c in clips])[:, None])
  results = dict(keypoint=kp0, keypoint_score=score0, img_shape=(args.size, args.size))

  cpu = next((line.split(':', 1)[1].strip() for line in open('/proc/cpuinfo') if line.startswith('model name')),
             platform.processor())
  print(f'# {time.strftime("%Y-%m-%d")}, {os.cpu_count()} CPUs ({cpu}), jax {jax.__version__} on '
        f'{jax.devices()[0].platform}; shape M=2 T={args.frames} {args.size}x{args.size} K=17; '
        f'{args.iters} timed iterations after one warm-up')
  print(f'| implementation | keypoint clips/s | limb clips/s |')
  print('|---|---:|---:|')
  rows = {
      'per-item loop (MMAction2 algorithm)': lambda limb: (
          lambda: reference_loop(kp0, score0, args.size, limb), 1),
      'skeljax numpy GeneratePoseTarget': lambda limb: (
          lambda: GeneratePoseTarget(with_kp=not limb, with_limb=limb)(dict(results)), 1),
      'skeljax JAX, 1 clip per call': lambda limb: (
          lambda: generate_pose_target(batch_kp[:1], batch_score[:1], height=args.size, width=args.size,
                                       with_kp=not limb, with_limb=limb).block_until_ready(), 1),
      f'skeljax JAX, {args.batch} clips per call': lambda limb: (
          lambda: generate_pose_target(batch_kp, batch_score, height=args.size, width=args.size,
                                       with_kp=not limb, with_limb=limb).block_until_ready(), args.batch),
  }
  for name, make in rows.items():
    rates = [_rate(*make(limb), iters=args.iters) for limb in (False, True)]
    print(f'| {name} | {rates[0]:.1f} | {rates[1]:.1f} |', flush=True)


if __name__ == '__main__':
  main()
