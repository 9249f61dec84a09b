"""MMAction2 / PySKL ``.pth`` checkpoint -> skeljax model -> skeljax (orbax) checkpoint.

``convert_checkpoint(model_cfg, pth_path, edition)`` builds the model of a config's ``model`` block, reads the
``.pth`` without PyTorch and imports it with the model family's key map (every mismatch reported at once as
``CheckpointMismatchError``). ``save_converted(model, workdir, meta)`` writes it as step 0 of
``<workdir>/checkpoints`` in the layout training and evaluation restore (``skeljax.checkpointing``).
"""

from __future__ import annotations

import importlib
import os
import pathlib
from collections.abc import Mapping

import jax
from flax import nnx

from skeljax.checkpoint import torch_pickle
from skeljax.models import create_model

# model name -> "module:function(model, state_dict, edition, source=...)", imported lazily like the models.
IMPORTERS = {
    'stgcn': 'skeljax.checkpoint.gcn_import:import_mmaction_gcn',
    'stgcnpp': 'skeljax.checkpoint.gcn_import:import_mmaction_gcn',
    'ctrgcn': 'skeljax.checkpoint.gcn_import:import_mmaction_gcn',
    'agcn': 'skeljax.checkpoint.gcn_import:import_mmaction_gcn',
    'aagcn': 'skeljax.checkpoint.gcn_import:import_mmaction_gcn',
    'msg3d': 'skeljax.models.gcn.msg3d:import_mmaction_msg3d',
    'dgstgcn': 'skeljax.models.gcn.dgstgcn:import_pyskl_dgstgcn',
    'posec3d': 'skeljax.models.posec3d:import_mmaction_posec3d',
}
DEFAULT_EDITION = '1.x'


def _as_dict(cfg: Mapping) -> dict:
  return dict(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)


def resolve_edition(model_cfg: Mapping, edition: str | None = None, model: nnx.Module | None = None) -> str:
  """The checkpoint edition: the one given, else the model block's, else the built model's own, else '1.x'."""
  return (edition or _as_dict(model_cfg).get('edition') or getattr(model, 'edition', None)
          or DEFAULT_EDITION)


def get_importer(name: str):
  """The checkpoint import function of model family ``name``."""
  if name not in IMPORTERS:
    raise ValueError(f'no MMAction2 checkpoint import for model {name!r}; known: {sorted(IMPORTERS)}')
  module_name, attr = IMPORTERS[name].split(':')
  return getattr(importlib.import_module(module_name), attr)


def convert_checkpoint(model_cfg: Mapping, pth_path: str | os.PathLike, edition: str | None = None, *,
                       seed: int = 0) -> nnx.Module:
  """Builds the model of ``model_cfg`` and fills it from the MMAction2/PySKL checkpoint at ``pth_path``.

  Raises ``CheckpointMismatchError`` (unknown / missing / mis-shaped keys, wrong graph buffers),
  ``FileNotFoundError`` or ``ValueError`` (not a checkpoint, unknown model or edition).
  """
  cfg = _as_dict(model_cfg)
  if 'name' not in cfg:
    raise ValueError(f'model config has no "name" (the model family); got keys {sorted(cfg)}')
  importer = get_importer(cfg['name'])
  state_dict = torch_pickle.load_state_dict(pth_path)
  # Every imported variable is overwritten, so the initial values are thrown away: an 'rbg' key draws them
  # (its per-shape sampling programs compile ~2x faster on CPU than threefry's: ST-GCN++ builds in half the
  # time). The seed also fixes the (unsaved) dropout stream.
  model = create_model(cfg, nnx.Rngs(params=jax.random.key(seed, impl='rbg'), dropout=seed + 1))
  importer(model, state_dict, resolve_edition(cfg, edition, model), source=os.fspath(pth_path))
  return model


def model_state_dict(model: nnx.Module) -> dict:
  """The ``model`` checkpoint item: a nested dict of parameter, BatchNorm and buffer arrays (no RNG state)."""
  return nnx.state(model).filter(nnx.Not(nnx.RngState)).to_pure_dict()


def save_converted(model: nnx.Module, workdir: str | os.PathLike, meta: Mapping) -> pathlib.Path:
  """Writes ``model`` as step 0 of ``<workdir>/checkpoints`` (items ``model`` and ``meta``); returns the step dir."""
  # Imported here: orbax and the training checkpoint code are only needed when writing.
  from skeljax import checkpointing  # pylint: disable=g-import-not-at-top
  existing = checkpointing.checkpoint_dir(workdir) / '0'
  if existing.exists():
    raise FileExistsError(f'{existing} already exists; convert into an empty workdir')
  return checkpointing.save_model_checkpoint(checkpointing.checkpoint_dir(workdir), model_state_dict(model),
                                             step=0, meta=dict(meta))
