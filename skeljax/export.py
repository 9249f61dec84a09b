"""Export a trained model as a serialized ``jax.export`` artefact (``python -m skeljax.main --mode=export``).

``<workdir>/export/`` (or ``out_dir``) receives:

- ``model.jaxexport``: the eval-mode forward pass with the weights baked in, lowered for CPU and CUDA, with a
  symbolic batch and clip count: ``x [b, clips, ...] -> raw class scores [b, clips, num_classes]``. Any JAX
  of the same StableHLO compatibility window (about six months) runs it without skeljax:
  ``jax.export.deserialize(open(p, 'rb').read()).call(x)``.
- ``labels.json``: the class names (``cfg.label_names``, else numbered).
- ``config.json``: the full config (the test pipeline that prepares inputs, the clip averaging).
- ``export.json``: input shape/dtype with the symbolic dims named, platforms, checkpoint, versions.

``jax.export`` rather than ONNX or a TF SavedModel: it needs neither TensorFlow nor extra converters
(jax_stack.md §6), and keeps XLA's numerics. Serialization needs the ``flatbuffers`` package.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping, Sequence

import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
from flax import nnx

from skeljax import label_maps

ARTEFACT = 'model.jaxexport'
PLATFORMS = ('cpu', 'cuda')
_FRAME_SAMPLERS = ('UniformSampleFrames', 'PaddingWithLoop')


def _ops(pipeline: Sequence[Mapping], name: str) -> list[Mapping]:
  return [op for op in pipeline if op['type'] == name]


def input_spec(cfg: ml_collections.ConfigDict) -> tuple[str, ...]:
  """The model input shape implied by the config's test pipeline, as strings: symbolic 'b' and 'clips'.

  GCN ``(b, clips, M, T, V, C)`` (T symbolic 't' when the pipeline keeps every frame); PoseC3D
  ``(b, clips, T, H, W, K)``.
  """
  pipeline = list(cfg.test_pipeline)
  samplers = [op for op in pipeline if op['type'] in _FRAME_SAMPLERS]
  frames = str(samplers[-1]['clip_len']) if samplers else 't'
  model = cfg.model
  if model.name == 'posec3d':
    if cfg.device_heatmap is not None and not _ops(pipeline, 'GeneratePoseTarget'):
      size = (cfg.device_heatmap.height, cfg.device_heatmap.width)
    else:
      size = _eval_image_size(pipeline)
    channels = model.get('backbone', {}).get('in_channels', 17)
    return ('b', 'clips', frames, str(size[0]), str(size[1]), str(channels))
  from skeljax.models.gcn import graph as graph_lib  # pylint: disable=g-import-not-at-top
  formats = _ops(pipeline, 'FormatGCNInput')
  persons = formats[-1].get('num_person', 2) if formats else model.get('num_person', 2)
  joints = graph_lib.get_layout(model.graph_cfg.layout).num_node
  return ('b', 'clips', str(persons), frames, str(joints), str(model.get('in_channels', 3)))


def _eval_image_size(pipeline: Sequence[Mapping]) -> tuple[int, int]:
  """(H, W) of the heatmaps a PoseC3D test pipeline renders: the last CenterCrop or fixed-size Resize."""
  for op in reversed(pipeline):
    if op['type'] == 'CenterCrop':
      size = op['crop_size']
      return (size, size) if isinstance(size, int) else (size[1], size[0])
    if op['type'] == 'Resize' and not op.get('keep_ratio', True):
      w, h = op['scale']  # MMAction2 scales are (w, h)
      return (h, w)
  raise ValueError('cannot tell the heatmap size from the test pipeline: it needs a CenterCrop or a '
                   'Resize(keep_ratio=False) before GeneratePoseTarget')


def load_model(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path | None,
               checkpoint: str | int | None = None) -> tuple[nnx.Module, pathlib.Path]:
  """The eval-mode model of a checkpoint: ``checkpoint`` is a step of ``workdir``, ``'best'`` or ``'latest'``
  of ``workdir``, a folder, or None (best, else latest, in ``workdir``). Every model variable must be in the
  checkpoint with its shape."""
  from skeljax import checkpointing  # pylint: disable=g-import-not-at-top
  from skeljax.models import create_model  # pylint: disable=g-import-not-at-top
  step_dir = checkpointing.resolve_checkpoint(checkpoint, workdir)
  # Shapes only, then the checkpoint's arrays: no initialisation compute (seconds on a CPU for PoseC3D).
  graphdef, abstract = nnx.split(nnx.eval_shape(lambda: create_model(cfg.model, nnx.Rngs(0))))
  stored = dict(nnx.traversals.flatten_mapping(checkpointing.load_model_state(step_dir)))
  flat, problems = [], []
  for path, variable in abstract.flat_state():
    key = tuple(str(p) for p in path)
    value = stored.pop(key, None)
    if isinstance(variable, nnx.RngState):
      # RNG streams are not checkpointed; eval mode never draws from them.
      value = jax.random.key(0) if jnp.issubdtype(variable.dtype, jax.dtypes.prng_key) else np.zeros(
          variable.shape, variable.dtype)
    elif value is None:
      problems.append(f'missing {"/".join(key)}')
      continue
    elif np.shape(value) != tuple(variable.shape):
      problems.append(f'{"/".join(key)} has shape {np.shape(value)}, the model {tuple(variable.shape)}')
      continue
    flat.append((path, variable.replace(jnp.asarray(value, variable.dtype))))
  problems += [f'unexpected {"/".join(key)}' for key in stored]
  if problems:
    raise ValueError(f'checkpoint {step_dir} does not match cfg.model: ' + '; '.join(problems[:20]))
  model = nnx.merge(graphdef, nnx.State.from_flat_path(flat))
  model.eval()
  return model, step_dir


def export_forward(model: nnx.Module, spec: Sequence[str], *, platforms: Sequence[str] = PLATFORMS
                   ) -> jax.export.Exported:
  """``jax.export`` of ``model`` (put in eval mode) on inputs of shape ``spec`` (ints or symbol names)."""
  model.eval()
  graphdef, state = nnx.split(model)

  def forward(x):
    return nnx.merge(graphdef, state, copy=True)(x)  # fresh variables of this trace: a call may update them

  shape = jax.export.symbolic_shape(', '.join(spec))
  return jax.export.export(jax.jit(forward), platforms=tuple(platforms))(
      jax.ShapeDtypeStruct(shape, jnp.float32))


def export_model(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path | None,
                 checkpoint: str | int | None = None, out_dir: str | pathlib.Path | None = None,
                 *, platforms: Sequence[str] = PLATFORMS, out: str | pathlib.Path | None = None) -> pathlib.Path:
  """Writes the artefact, labels, config and metadata (module docstring) and returns the folder.

  ``out`` is another name for ``out_dir`` (``skeljax.main`` passes its ``--out`` flag that way).
  """
  out_dir = out_dir if out_dir is not None else out
  if out_dir is None:
    if workdir is None:
      raise ValueError('export needs a workdir or an out_dir')
    out_dir = pathlib.Path(workdir) / 'export'
  out_dir = pathlib.Path(out_dir)
  model, step_dir = load_model(cfg, workdir, checkpoint)
  spec = input_spec(cfg)
  exported = export_forward(model, spec, platforms=platforms)
  labels = label_maps.get_label_names(cfg.get('label_names'), cfg.model.num_classes)

  out_dir.mkdir(parents=True, exist_ok=True)
  (out_dir / ARTEFACT).write_bytes(exported.serialize())
  (out_dir / 'labels.json').write_text(json.dumps(labels, indent=1, ensure_ascii=False) + '\n')
  (out_dir / 'config.json').write_text(cfg.to_json_best_effort(indent=2) + '\n')
  meta = {
      'artefact': ARTEFACT,
      'input_shape': list(spec),
      'input_dtype': 'float32',
      'input_layout': ('[batch, clips, T, H, W, K] heatmap volumes' if cfg.model.name == 'posec3d'
                       else '[batch, clips, persons, T, joints, channels]'),
      'output': '[batch, clips, num_classes] raw class scores; average clips with eval.average_clips',
      'average_clips': cfg.eval.get('average_clips', 'prob'),
      'num_classes': int(cfg.model.num_classes),
      'platforms': list(exported.platforms),
      'checkpoint': str(step_dir),
      'jax_version': jax.__version__,
      'calling_convention_version': exported.calling_convention_version,
  }
  (out_dir / 'export.json').write_text(json.dumps(meta, indent=2) + '\n')
  return out_dir


class ExportedModel:
  """A loaded export folder: ``__call__(x [b, clips, ...]) -> [b, clips, num_classes]`` raw scores."""

  def __init__(self, directory: str | pathlib.Path):
    directory = pathlib.Path(directory)
    if not (directory / ARTEFACT).is_file() and (directory / 'export' / ARTEFACT).is_file():
      directory = directory / 'export'
    for name in (ARTEFACT, 'labels.json', 'config.json', 'export.json'):
      if not (directory / name).is_file():
        raise FileNotFoundError(f'{directory} is not a skeljax export folder: {name} is missing '
                                '(write one with python -m skeljax.main --mode=export)')
    self.directory = directory
    self.exported = jax.export.deserialize(bytearray((directory / ARTEFACT).read_bytes()))
    self.labels = json.loads((directory / 'labels.json').read_text())
    self.config = ml_collections.ConfigDict(json.loads((directory / 'config.json').read_text()))
    self.meta = json.loads((directory / 'export.json').read_text())

  def __call__(self, x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    expected = self.meta['input_shape']
    fixed_ok = len(x.shape) == len(expected) and all(
        not dim.isdigit() or int(dim) == size for dim, size in zip(expected, x.shape))
    if not fixed_ok:
      raise ValueError(f'input of shape {x.shape} does not fit the exported model\'s {tuple(expected)}')
    return np.asarray(self.exported.call(x))
