"""Render one skeleton clip, and its keypoint and limb heatmap volumes, to PNG montages and GIFs.

    python -m skeljax.tools.visualize --ann=ann.pkl --index=0 --out=viz [--layout=coco] [--split=xsub_val]

Writes ``<out>/<frame_dir>_{skeleton,keypoint_heatmap,limb_heatmap}.{png,gif}``: the PNG is a montage of
``--panels`` evenly spaced frames, the GIF holds up to ``--max-frames`` frames. Coordinates are fitted into
a square (tight box of the non-zero joints + 25 %, like ``PoseCompact``) before rendering, so 2D pixel
annotations and 3D NTU coordinates (x, y with y up) both fill the picture; heatmaps are
``GeneratePoseTarget`` volumes at ``--heatmap-size`` (PoseC3D's 56 / 64 px), one colour per channel.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import re
from collections.abc import Sequence

import matplotlib

matplotlib.use('Agg')
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from PIL import Image, ImageDraw  # noqa: E402

from skeljax.data.heatmap import COCO_LIMBS, GeneratePoseTarget  # noqa: E402
from skeljax.models.gcn.graph import get_layout  # noqa: E402

_LAYOUT_BY_JOINTS = {17: 'coco', 18: 'openpose', 20: 'nw-ucla', 25: 'nturgb+d'}
_BACKGROUND = (255, 255, 255)


def _colors(num: int) -> np.ndarray:
  """`[num, 3]` distinct uint8 RGB colours."""
  return (plt.get_cmap('hsv')(np.linspace(0, 1, num, endpoint=False))[:, :3] * 255).astype(np.uint8)


def fit_to_square(keypoint: np.ndarray, size: float, padding: float = 0.25) -> np.ndarray:
  """Maps keypoint `[M, T, V, C]` (x, y; 3D: y up) into `[0, size)^2`; all-zero joints stay at 0."""
  xy = keypoint[..., :2].astype(np.float64)
  if keypoint.shape[-1] >= 3:
    xy = xy * np.array([1.0, -1.0])  # 3D skeletons: world y points up, image y points down
  present = np.any(keypoint[..., :2] != 0, axis=-1)
  if not present.any():
    return np.zeros(xy.shape, np.float32)
  lo, hi = xy[present].min(0), xy[present].max(0)
  half = max((hi - lo).max() / 2 * (1 + padding), 1e-6)
  centre = (lo + hi) / 2
  fitted = (xy - centre + half) / (2 * half) * size
  return np.where(present[..., None], fitted, 0).astype(np.float32)


def skeleton_frames(keypoint: np.ndarray, score: np.ndarray, edges: Sequence[tuple[int, int]], size: int = 256,
                    min_score: float = 0.0) -> np.ndarray:
  """RGB frames `[T, size, size, 3]` uint8 of joints (dots) and bones (lines) of keypoint `[M, T, V, 2]` (px)."""
  num_person, num_frame = keypoint.shape[:2]
  person_colors = _colors(max(num_person, 1) * 3)[::3].astype(np.float32)
  white = np.float32(_BACKGROUND)

  def faded(rgb, confidence):  # low-confidence joints and bones fade towards the background
    weight = 0.2 + 0.8 * float(np.clip(confidence, 0, 1))
    return tuple(int(c) for c in weight * rgb + (1 - weight) * white)

  radius = max(size // 96, 2)
  frames = np.empty((num_frame, size, size, 3), np.uint8)
  for t in range(num_frame):
    image = Image.new('RGB', (size, size), _BACKGROUND)
    draw = ImageDraw.Draw(image)
    for m in range(num_person):
      kp, s = keypoint[m, t], score[m, t]
      shown = np.any(kp != 0, axis=-1) & (s > min_score)
      for a, b in edges:
        if shown[a] and shown[b]:
          draw.line([tuple(kp[a]), tuple(kp[b])], fill=faded(person_colors[m], min(s[a], s[b])),
                    width=max(size // 128, 1))
      for v in np.flatnonzero(shown):
        x, y = kp[v]
        draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=faded(np.zeros(3), s[v]))
    frames[t] = np.asarray(image)
  return frames


def heatmap_frames(volume: np.ndarray, scale: int = 4) -> np.ndarray:
  """RGB frames `[T, H*scale, W*scale, 3]` uint8: each channel of volume `[T, H, W, K]` in its own colour."""
  colors = _colors(volume.shape[-1]).astype(np.float32)
  # Max over channels of (heat x colour), on white: a pixel takes the colour of its hottest channel.
  rgb = np.max(volume[..., :, None] * colors, axis=-2)
  heat = np.clip(volume.max(-1, keepdims=True), 0, 1)
  image = 255 * (1 - heat) + rgb
  image = np.clip(image, 0, 255).astype(np.uint8)
  return image.repeat(scale, axis=1).repeat(scale, axis=2)


def _montage_png(frames: np.ndarray, path: pathlib.Path, title: str, panels: int) -> None:
  picks = np.unique(np.linspace(0, len(frames) - 1, min(panels, len(frames))).round().astype(int))
  fig, axes = plt.subplots(1, len(picks), figsize=(2.2 * len(picks), 2.6), squeeze=False)
  for ax, t in zip(axes[0], picks):
    ax.imshow(frames[t])
    ax.set_title(f'frame {t}', fontsize=8)
    ax.axis('off')
  fig.suptitle(title, fontsize=9)
  fig.tight_layout()
  fig.savefig(path, dpi=100)
  plt.close(fig)


def _gif(frames: np.ndarray, path: pathlib.Path, fps: float) -> None:
  images = [Image.fromarray(f) for f in frames]
  images[0].save(path, save_all=True, append_images=images[1:], duration=int(1000 / fps), loop=0)


def render_record(record: dict, out_dir: str | os.PathLike, *, layout: str | None = None, panels: int = 8,
                  max_frames: int = 48, size: int = 256, heatmap_size: int = 64, sigma: float = 0.6,
                  fps: float = 10.0) -> dict[str, pathlib.Path]:
  """Writes skeleton / keypoint-heatmap / limb-heatmap PNG + GIF for one annotation dict; returns the paths."""
  name = str(record.get('frame_dir', 'clip'))
  keypoint = np.asarray(record['keypoint'], np.float32)
  if keypoint.ndim != 4 or keypoint.shape[-1] not in (2, 3):
    raise ValueError(f'{name}: keypoint must be [M, T, V, 2 or 3], got {keypoint.shape}')
  num_person, num_frame, num_joint = keypoint.shape[:3]
  if num_frame == 0:
    raise ValueError(f'{name}: the clip has no frames')
  layout = layout or _LAYOUT_BY_JOINTS.get(num_joint)
  if layout is None:
    raise ValueError(f'{name}: no default layout for {num_joint} joints; pass --layout')
  lay = get_layout(layout)
  if lay.num_node != num_joint:
    raise ValueError(f'{name}: layout {lay.name!r} has {lay.num_node} joints, the clip has {num_joint}')
  score = np.asarray(record.get('keypoint_score', np.ones(keypoint.shape[:3])), np.float32)
  if score.shape != keypoint.shape[:3]:
    raise ValueError(f'{name}: keypoint_score shape {score.shape} != keypoint shape[:3] {keypoint.shape[:3]}')

  frames = np.unique(np.linspace(0, num_frame - 1, min(max_frames, num_frame)).round().astype(int))
  keypoint, score = keypoint[:, frames], score[:, frames]
  limbs = COCO_LIMBS if lay.name in ('coco', 'coco-0x') else lay.inward
  heat_input = dict(keypoint=fit_to_square(keypoint, heatmap_size), keypoint_score=score,
                    img_shape=(heatmap_size, heatmap_size), frame_dir=name)
  kp_volume = GeneratePoseTarget(sigma=sigma)(dict(heat_input))['imgs']
  limb_volume = GeneratePoseTarget(sigma=sigma, with_kp=False, with_limb=True, skeletons=limbs)(
      dict(heat_input))['imgs']
  scale = max(size // heatmap_size, 1)
  rendered = {
      'skeleton': skeleton_frames(fit_to_square(keypoint, size), score, lay.inward, size),
      'keypoint_heatmap': heatmap_frames(kp_volume, scale),
      'limb_heatmap': heatmap_frames(limb_volume, scale),
  }
  out_dir = pathlib.Path(out_dir)
  out_dir.mkdir(parents=True, exist_ok=True)
  stem = re.sub(r'[^A-Za-z0-9_.+-]', '_', name)
  paths = {}
  for kind, images in rendered.items():
    title = f'{name} ({lay.name}, {num_person} person(s)) - {kind.replace("_", " ")}'
    paths[f'{kind}_png'] = out_dir / f'{stem}_{kind}.png'
    paths[f'{kind}_gif'] = out_dir / f'{stem}_{kind}.gif'
    _montage_png(images, paths[f'{kind}_png'], title, panels)
    _gif(images, paths[f'{kind}_gif'], fps)
  return paths


def main(argv: Sequence[str] | None = None) -> dict[str, pathlib.Path]:
  """Command line entry point."""
  parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
  parser.add_argument('--ann', required=True, help='MMAction2/PySKL annotation pickle')
  parser.add_argument('--index', type=int, default=0, help='which record of the (split of the) file')
  parser.add_argument('--split', default=None, help='split name for {split, annotations} files')
  parser.add_argument('--out', required=True, help='output folder')
  parser.add_argument('--layout', default=None, help='skeleton layout (default: from the joint count)')
  parser.add_argument('--panels', type=int, default=8)
  parser.add_argument('--max-frames', type=int, default=48)
  parser.add_argument('--size', type=int, default=256, help='skeleton frame size in pixels')
  parser.add_argument('--heatmap-size', type=int, default=64)
  parser.add_argument('--sigma', type=float, default=0.6)
  args = parser.parse_args(argv)

  from skeljax.data.annotations import load_annotations  # pylint: disable=g-import-not-at-top
  records = load_annotations(args.ann, args.split)
  if not 0 <= args.index < len(records):
    raise SystemExit(f'{args.ann}: --index {args.index} out of range; the file has {len(records)} records')
  paths = render_record(dict(records[args.index]), args.out, layout=args.layout, panels=args.panels,
                        max_frames=args.max_frames, size=args.size, heatmap_size=args.heatmap_size,
                        sigma=args.sigma)
  for path in paths.values():
    print(path)
  return paths


if __name__ == '__main__':
  main()
