r"""Classify one skeleton clip and print the top-5 classes with their probabilities.

  python -m skeljax.predict --model=runs/stgcn_j/export --input=S001C001P001R001A001.skeleton
  python -m skeljax.predict --model=runs/stgcn_j --config=configs/stgcn_ntu60.py:xsub,joint,3d \
      --input=ntu60_3danno.pkl --split=xsub_val --index=3

``--model`` is an export folder (``python -m skeljax.main --mode=export``; the config and class names come
with it) or a training workdir / checkpoint folder together with ``--config`` (and optionally
``--checkpoint=best|latest|<step>``; default: best, else latest). ``--input`` is an annotation
pickle (``--index`` picks the record, ``--split`` the split of a PySKL-style file), a raw NTU RGB+D
``.skeleton`` file, or an st-gcn Kinetics-skeleton ``.json`` file (OpenPose-18; reordered to COCO-17 for
COCO-17 models such as the 2D ST-GCN and PoseC3D configs). The config's test pipeline prepares the
clip exactly as evaluation does (e.g. 10 clips for the 1.x GCN recipes, 10 clips x 2 flips for PoseC3D).

A video (``.mp4``, ``.avi``, ``.mov``, ``.mkv``, ``.webm``) is first turned into COCO-17 2D poses by
MediaPipe BlazePose in the pose environment (``make pose-setup``; up to ``--max_persons`` people), so it
needs a COCO-17 2D model (2D ST-GCN / 2s-AGCN configs, PoseC3D)::

  python -m skeljax.predict --model=runs/posec3d/export --input=a.mp4 --out_video=annotated.mp4 \
      --window=48 --stride=16

``--out_video`` writes the video with the skeletons and the predicted action drawn on every frame;
``--window T --stride S`` also classifies windows of T frames every S frames and prints one line per
window (start and end seconds, top-1 class, probability); the annotated video then shows, on each frame,
the label of the window centred nearest to it.
"""

from __future__ import annotations

import pathlib
import sys
from collections.abc import Mapping, Sequence

import numpy as np

from skeljax import export, label_maps

_LAST_OPS = ('PackActionInputs', 'PackPoseKeypoints')


def _uses_2d_input(cfg) -> bool:
  return any(op['type'] in ('PreNormalize2D', 'PoseNormalize') for op in cfg.test_pipeline) or (
      cfg.model.name == 'posec3d')


def read_input(path: str | pathlib.Path, *, index: int = 0, split: str | None = None,
               modality: str = '3d') -> dict:
  """One MMAction2 results dict from an annotation pickle, a raw NTU ``.skeleton``, a Kinetics ``.json`` or a video."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'input file {path} does not exist')
  suffix = path.suffix.lower()
  if suffix == '.pkl':
    from skeljax.data import annotations  # pylint: disable=g-import-not-at-top
    records = annotations.load_annotations(path, split)
    if not 0 <= index < len(records):
      raise IndexError(f'{path}: --index={index} is out of range; the file has {len(records)} records')
    return dict(records[index])
  if suffix == '.skeleton':
    from skeljax.data import ntu_raw  # pylint: disable=g-import-not-at-top
    return ntu_raw.to_record(ntu_raw.parse_skeleton_file(path), modality)
  if suffix == '.json':
    from skeljax.data import kinetics_json  # pylint: disable=g-import-not-at-top
    return kinetics_json.load_kinetics_json(path)
  from skeljax import video  # pylint: disable=g-import-not-at-top
  if video.is_video(path):
    from skeljax.video import extract  # pylint: disable=g-import-not-at-top
    return extract.extract_poses([path])[0].record
  raise ValueError(f'{path}: unknown input format {suffix!r}; expected .pkl (annotation pickle), '
                   '.skeleton (raw NTU RGB+D), .json (Kinetics-skeleton) or a video '
                   f'({", ".join(video.VIDEO_EXTENSIONS)})')


def _softmax(x: np.ndarray) -> np.ndarray:
  e = np.exp(x - x.max(axis=-1, keepdims=True))
  return e / e.sum(axis=-1, keepdims=True)


class Predictor:
  """Config + model + class names; ``probabilities(record) -> [num_classes]`` for one results dict."""

  def __init__(self, model: str | pathlib.Path, cfg=None, label_names: str | None = None,
               checkpoint: str | int | None = None):
    model = pathlib.Path(model)
    if (model / export.ARTEFACT).is_file() or (model / 'export' / export.ARTEFACT).is_file():
      if checkpoint is not None:
        raise ValueError(f'{model} is an export folder (one baked-in checkpoint); --checkpoint applies to a '
                         'workdir or checkpoint folder')
      exported = export.ExportedModel(model)
      self.cfg = cfg if cfg is not None else exported.config
      self.labels = exported.labels
      self._forward = exported
      self.source = str(exported.directory)
    else:
      if cfg is None:
        raise ValueError(f'{model} is not an export folder; pass --config to run a checkpoint')
      from flax import nnx  # pylint: disable=g-import-not-at-top
      # --checkpoint picks best / latest / a step of the workdir; without it a folder resolves as usual.
      loaded, step_dir = (export.load_model(cfg, None, str(model)) if checkpoint is None
                          else export.load_model(cfg, model, checkpoint))
      jitted = nnx.jit(lambda m, x: m(x))
      self.cfg = cfg
      self.labels = label_maps.get_label_names(cfg.get('label_names'), cfg.model.num_classes)
      self._forward = lambda x: np.asarray(jitted(loaded, x))
      self.source = str(step_dir)
    if label_names:
      self.labels = label_maps.get_label_names(label_names, self.cfg.model.num_classes)
    from skeljax.data.pipeline import build_pipeline, with_num_clips  # pylint: disable=g-import-not-at-top
    # Inference inputs need not carry a label.
    ops = [dict(op, require_label=False) if op['type'] in _LAST_OPS else op
           for op in with_num_clips(self.cfg.test_pipeline, self.cfg.eval.get('test_num_clips'))]
    self.pipeline = build_pipeline(ops)

  def model_input(self, record: Mapping) -> np.ndarray:
    """The test pipeline's output for one record, as a batch of one ``[1, clips, ...]``."""
    out = self.pipeline(dict(record), rng=np.random.default_rng(0))
    if 'inputs' in out:
      return out['inputs'][None]
    # PackPoseKeypoints: render the volumes as the eval step would.
    from skeljax.data import heatmap_jax  # pylint: disable=g-import-not-at-top
    hm = dict(self.cfg.device_heatmap)
    return np.asarray(heatmap_jax.generate_pose_target(out['keypoint'][None], out['keypoint_score'][None],
                                                       person_valid=out['person_valid'][None], **hm))

  def probabilities(self, record: Mapping) -> np.ndarray:
    """Class probabilities ``[num_classes]``: clip scores averaged as ``cfg.eval.average_clips`` says."""
    scores = np.asarray(self._forward(self.model_input(record)), np.float64)[0]  # [clips, classes]
    if self.cfg.eval.get('average_clips', 'prob') == 'prob':
      return _softmax(scores).mean(axis=0)
    return _softmax(scores.mean(axis=0))  # 'score' / None: averaged logits, shown as probabilities

  def top_k(self, record: Mapping, k: int = 5) -> list[tuple[int, str, float]]:
    """The k most probable classes as (index, name, probability), most probable first."""
    probs = self.probabilities(record)
    order = np.argsort(-probs, kind='stable')[:k]
    return [(int(i), self.labels[i], float(probs[i])) for i in order]


def model_num_joints(cfg) -> int:
  """Joints per frame the configured model reads (PoseC3D: its heatmap channels)."""
  if cfg.model.name == 'posec3d':
    return cfg.model.get('backbone', {}).get('in_channels', 17)
  from skeljax.models.gcn import graph as graph_lib  # pylint: disable=g-import-not-at-top
  return graph_lib.get_layout(cfg.model.graph_cfg.layout).num_node


def fit_layout(record: dict, cfg) -> dict:
  """An OpenPose-18 clip (Kinetics-skeleton JSON) for a COCO-17 model: reordered to COCO-17, neck dropped."""
  if np.asarray(record['keypoint']).shape[2:3] == (18,) and model_num_joints(cfg) == 17:
    from skeljax.data import openpose_json  # pylint: disable=g-import-not-at-top
    return openpose_json.openpose18_to_coco17(record)
  return record


def check_joints(record: Mapping, cfg, path) -> None:
  """Fails clearly when the clip's joint count or dimensionality does not fit the model's layout."""
  keypoint = np.asarray(record['keypoint'])
  expected = model_num_joints(cfg)
  if keypoint.ndim != 4 or keypoint.shape[2] != expected:
    raise ValueError(f'{path}: clip {record.get("frame_dir", "?")!r} has keypoint shape {keypoint.shape} '
                     f'([M, T, V, C]) but the model expects V = {expected} joints')


def check_video_model(cfg, path) -> None:
  """Fails before any pose extraction when the model does not read COCO-17 2D keypoints."""
  if model_num_joints(cfg) != 17 or not _uses_2d_input(cfg):
    raise ValueError(f'{path}: a video gives COCO-17 2D keypoints, but the model reads {model_num_joints(cfg)} '
                     f'joints{"" if _uses_2d_input(cfg) else " in 3D"}; use a COCO-17 2D config (e.g. '
                     'stgcn_ntu60.py:xsub,joint,2d or a posec3d config)')


def classify_windows(predictor: Predictor, record: Mapping, window: int, stride: int
                     ) -> list[tuple[int, int, int, str, float]]:
  """Top-1 of each sliding window as ``(start, end, class index, name, probability)`` (end exclusive)."""
  from skeljax.video import windows  # pylint: disable=g-import-not-at-top
  rows = []
  for start, end in windows.sliding_windows(int(record['total_frames']), window, stride):
    (index, name, prob), = predictor.top_k(windows.window_record(record, start, end), 1)
    rows.append((start, end, index, name, prob))
  return rows


def _print_timeline(rows, fps: float | None, window: int, stride: int) -> None:
  rate = f'{fps:.2f} fps' if fps else 'frame rate unknown: frame numbers'
  print(f'  timeline (windows of {window} frames every {stride}; {rate}):')
  for start, end, index, name, prob in rows:
    span = f'{start / fps:7.2f}s - {end / fps:7.2f}s' if fps else f'frames {start:6d} - {end:6d}'
    print(f'    {span}  {name:<45s} {prob:.4f}  (class {index})')


def _frame_texts(top, rows, total_frames: int) -> list[str]:
  """The label drawn on each frame: the video's top-1, or the top-1 of the window centred nearest."""
  if not rows:
    return [f'{top[0][1]} {top[0][2]:.2f}'] * total_frames
  from skeljax.video import windows  # pylint: disable=g-import-not-at-top
  nearest = windows.nearest_window([(r[0], r[1]) for r in rows], total_frames)
  return [f'{rows[w][3]} {rows[w][4]:.2f}' for w in nearest]


def run(model: str, input_path: str, *, cfg=None, index: int = 0, split: str | None = None, topk: int = 5,
        label_names: str | None = None, checkpoint: str | None = None, out_video: str | None = None,
        window: int | None = None, stride: int | None = None, max_persons: int = 2) -> int:
  """What the command line does: prints the top-k classes of one clip; returns the exit status."""
  from skeljax import video  # pylint: disable=g-import-not-at-top
  from skeljax.video.pose_env import PoseEnvironmentError  # pylint: disable=g-import-not-at-top
  fps, rows = None, []
  try:
    is_video = video.is_video(input_path)
    if (out_video or window) and not is_video:
      raise ValueError(f'{input_path}: --out_video and --window need a video input '
                       f'({", ".join(video.VIDEO_EXTENSIONS)})')
    if stride is not None and not window:
      raise ValueError('--stride needs --window')
    predictor = Predictor(model, cfg, label_names, checkpoint)
    if is_video:
      from skeljax.video import extract, probe, render  # pylint: disable=g-import-not-at-top
      check_video_model(predictor.cfg, input_path)
      probe.check_video_file(input_path)
      if out_video:
        render.check_output_path(input_path, out_video)
      if window and (window < 1 or (stride or window) < 1):
        raise ValueError(f'--window and --stride must be positive frame counts, got {window} and {stride}')
      poses = extract.extract_poses([input_path], max_persons=max_persons)[0]
      record, fps = poses.record, poses.fps
    else:
      modality = '2d' if _uses_2d_input(predictor.cfg) else '3d'
      record = fit_layout(read_input(input_path, index=index, split=split, modality=modality), predictor.cfg)
    check_joints(record, predictor.cfg, input_path)
    top = predictor.top_k(record, topk)
    if window:
      rows = classify_windows(predictor, record, window, stride or window)
  except (FileNotFoundError, ValueError, IndexError, KeyError, PoseEnvironmentError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  print(f'{input_path} [{record.get("frame_dir", "")}] with {predictor.source}')
  if 'label' in record:
    label = int(record['label'])
    if pathlib.Path(input_path).suffix.lower() == '.skeleton':  # the file name's NTU action, whatever the model
      print(f'  ground truth: A{label + 1:03d} {label_maps.NTU120_NAMES[label]}')
    elif 0 <= label < len(predictor.labels):
      print(f'  ground truth: {predictor.labels[label]} (class {label})')
  for rank, (class_index, name, prob) in enumerate(top, 1):
    print(f'  {rank}. {name:<45s} {prob:.4f}  (class {class_index})')
  if window:
    _print_timeline(rows, fps, window, stride or window)
  if out_video:
    try:
      written = render.write_annotated_video(input_path, out_video, record,
                                             _frame_texts(top, rows, int(record['total_frames'])))
    except (FileNotFoundError, ValueError, PoseEnvironmentError) as e:
      print(f'error: {e}', file=sys.stderr)
      return 1
    print(f'  annotated video: {written}')
  return 0


if __name__ == '__main__':
  # Flags live here so that importing this module next to skeljax.main defines no duplicate --config.
  from absl import app, flags  # pylint: disable=g-import-not-at-top
  from ml_collections import config_flags  # pylint: disable=g-import-not-at-top

  _MODEL = flags.DEFINE_string('model', None, 'Export folder, or a workdir / checkpoint folder (with --config).',
                               required=True)
  _INPUT = flags.DEFINE_string('input', None, 'Annotation .pkl, raw NTU .skeleton, Kinetics .json, or a video '
                               '(.mp4, .avi, .mov, .mkv, .webm).', required=True)
  _CONFIG = config_flags.DEFINE_config_file('config', None, 'Config (configs/*.py[:variant]) for a checkpoint.')
  _INDEX = flags.DEFINE_integer('index', 0, 'Record of an annotation pickle.')
  _SPLIT = flags.DEFINE_string('split', None, 'Split of a PySKL-style annotation pickle.')
  _TOPK = flags.DEFINE_integer('topk', 5, 'How many classes to print.')
  _LABEL_NAMES = flags.DEFINE_string('label_names', None, "'ntu60', 'ntu120' or a file: overrides the model's.")
  _CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'With a workdir as --model: best, latest or a step '
                                    '(default: best, else latest).')
  _OUT_VIDEO = flags.DEFINE_string('out_video', None, 'Video input: write it here with the skeletons and the '
                                   'predicted action drawn (.mp4, .avi, .mov, .mkv, .webm).')
  _WINDOW = flags.DEFINE_integer('window', None, 'Video input: also classify sliding windows of this many '
                                 'frames and print a timeline.')
  _STRIDE = flags.DEFINE_integer('stride', None, 'Frames between window starts (default: --window).')
  _MAX_PERSONS = flags.DEFINE_integer('max_persons', 2, 'Video input: people tracked by the pose estimator '
                                      '(several at once).')

  def main(argv):
    if len(argv) > 1:
      raise app.UsageError(f'unexpected arguments: {argv[1:]}')
    from skeljax import runtime  # pylint: disable=g-import-not-at-top
    runtime.set_cpu_compiler_options()  # before the backends exist (skeljax/runtime.py says why)
    return run(_MODEL.value, _INPUT.value, cfg=_CONFIG.value, index=_INDEX.value, split=_SPLIT.value,
               topk=_TOPK.value, label_names=_LABEL_NAMES.value, checkpoint=_CHECKPOINT.value,
               out_video=_OUT_VIDEO.value, window=_WINDOW.value, stride=_STRIDE.value,
               max_persons=_MAX_PERSONS.value)

  app.run(main)
