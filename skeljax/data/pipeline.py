"""``build_pipeline``: MMAction2-style pipeline configs -> a picklable ``Compose`` of skeljax transforms.

    pipeline = build_pipeline([
        {'type': 'UniformSampleFrames', 'clip_len': 100},
        {'type': 'PoseDecode'},
        {'type': 'FormatGCNInput', 'num_person': 2},
        {'type': 'PackActionInputs'},
    ])
    sample = pipeline(record, rng=np.random.default_rng(0))   # or grain: ds.random_map(pipeline)

The registry is a plain dict from MMAction2 class names to classes, so a reader can find the code for
any name in a config; ops owned by other modules are imported on first use.
"""

from __future__ import annotations

import difflib
import importlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from skeljax.data import transforms

# Name -> class, for the ops defined in skeljax.data.transforms.
_LOCAL = {name: getattr(transforms, name) for name in transforms.TRANSFORM_NAMES}
# Name -> 'module:attribute', imported when a config first asks for it.
_LAZY = {
    'GeneratePoseTarget': 'skeljax.data.heatmap:GeneratePoseTarget',
}


def known_transforms() -> list[str]:
  """All names ``build_pipeline`` accepts as ``type``."""
  return sorted({*_LOCAL, *_LAZY})


def get_transform_class(name: str) -> type:
  """The class registered under ``name`` (an MMAction2 transform name)."""
  if name in _LOCAL:
    return _LOCAL[name]
  if name in _LAZY:
    module, attr = _LAZY[name].split(':')
    try:
      return getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
      raise ImportError(f'transform {name!r} lives in {module}, which could not be loaded: {e}') from e
  close = difflib.get_close_matches(name, known_transforms(), n=3)
  hint = f' Did you mean {", ".join(close)}?' if close else ''
  raise KeyError(f'unknown transform type {name!r}.{hint} Known: {", ".join(known_transforms())}')


class Compose:
  """Applies transforms in order to a shallow copy of the results dict; picklable for grain workers.

  ``random`` is True if any op draws from the rng, i.e. the pipeline must go through grain's
  ``random_map`` (deterministic pipelines can use ``map``).
  """

  def __init__(self, ops: Sequence[Callable]):
    self.ops = list(ops)

  @property
  def random(self) -> bool:
    return any(getattr(op, 'random', False) for op in self.ops)

  def __call__(self, results: dict, rng: np.random.Generator | None = None) -> dict:
    results = dict(results)  # the caller's dict (e.g. a data-source record) is left as it was
    for op in self.ops:
      results = op(results, rng)
      if results is None:
        raise ValueError(f'{op!r} returned None instead of a results dict')
    return results

  def __len__(self) -> int:
    return len(self.ops)

  def __getitem__(self, index):
    return Compose(self.ops[index]) if isinstance(index, slice) else self.ops[index]

  def __repr__(self) -> str:
    return 'Compose([\n' + ''.join(f'    {op!r},\n' for op in self.ops) + '])'


def build_transform(cfg: Mapping) -> Callable:
  """One transform from ``{'type': Name, **kwargs}``."""
  if not isinstance(cfg, Mapping) or 'type' not in cfg:
    raise TypeError(f'a pipeline entry must be a dict with a "type" key, got {cfg!r}')
  kwargs = dict(cfg)
  cls = get_transform_class(kwargs.pop('type'))
  try:
    return cls(**kwargs)
  except TypeError as e:
    raise TypeError(f'cannot build {cls.__name__} from {dict(cfg)!r}: {e}') from e


def build_pipeline(cfgs: Sequence[Mapping | Callable]) -> Compose:
  """A ``Compose`` from MMAction2-style dicts (already-built transforms pass through as they are)."""
  if isinstance(cfgs, Mapping):
    raise TypeError('build_pipeline takes a list of transform dicts, got a single dict')
  return Compose([cfg if callable(cfg) and not isinstance(cfg, Mapping) else build_transform(cfg)
                  for cfg in cfgs])


def with_num_clips(cfgs: Sequence[Mapping], num_clips: int | None) -> list[dict]:
  """A copy of a test pipeline whose frame sampler draws ``num_clips`` clips (``None``: unchanged).

  What ``cfg.eval.test_num_clips`` does: e.g. 1 clip instead of the recipe's 10 for a quick test.
  """
  cfgs = [dict(cfg) for cfg in cfgs]
  if num_clips is None:
    return cfgs
  samplers = [cfg for cfg in cfgs if cfg.get('type') == 'UniformSampleFrames']
  if not samplers:
    raise ValueError(f'test_num_clips={num_clips}: the test pipeline has no UniformSampleFrames op to draw '
                     f'clips (its ops: {[cfg.get("type") for cfg in cfgs]})')
  for cfg in samplers:
    cfg['num_clips'] = int(num_clips)
  return cfgs
