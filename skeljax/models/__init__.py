"""Model registry: ``create_model(cfg, rngs)`` builds a recognizer from a config's ``model`` block.

``cfg.name`` picks the family; the other fields are the family's constructor arguments. Every recognizer
maps its input to raw class scores ``[N, num_clips, num_classes]``; ``layers.average_clips`` reduces them.
Inputs are channel-last: GCN ``[N, clips, M, T, V, C]``, PoseC3D ``[N, clips, T, H, W, K]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping

from flax import nnx

# name -> "module:factory"; imported lazily so that a family's import cost is paid only when used.
MODELS = {
    'stgcn': 'skeljax.models.gcn.stgcn:STGCNRecognizer',
    'stgcnpp': 'skeljax.models.gcn.stgcn:STGCNPlusPlusRecognizer',  # 'stgcn' with ST-GCN++'s defaults
    'ctrgcn': 'skeljax.models.gcn.ctrgcn:CTRGCNRecognizer',
    'agcn': 'skeljax.models.gcn.agcn:AGCNRecognizer',
    'aagcn': 'skeljax.models.gcn.aagcn:AAGCNRecognizer',
    'msg3d': 'skeljax.models.gcn.msg3d:MSG3DRecognizer',
    'dgstgcn': 'skeljax.models.gcn.dgstgcn:DGSTGCNRecognizer',
    'posec3d': 'skeljax.models.posec3d:PoseC3DRecognizer',
}


def get_model_cls(name: str):
  """The recognizer class registered under ``name``."""
  if name not in MODELS:
    raise ValueError(f'unknown model {name!r}; known: {sorted(MODELS)}')
  module_name, attr = MODELS[name].split(':')
  return getattr(importlib.import_module(module_name), attr)


def create_model(cfg: Mapping, rngs: nnx.Rngs) -> nnx.Module:
  """Builds the recognizer described by ``cfg`` (a dict or ConfigDict with ``name`` and kwargs)."""
  kwargs = dict(cfg.to_dict() if hasattr(cfg, 'to_dict') else cfg)
  name = kwargs.pop('name')
  return get_model_cls(name)(**kwargs, rngs=rngs)
