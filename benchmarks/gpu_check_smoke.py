"""Tiny variants of the three zoo models for ``gpu_check --smoke``: a CPU run that checks the script, not speed.

The recognizer classes, train / eval steps, losses and optimizers of ``configs/{stgcn,agcn,posec3d}_ntu60.py``,
one GCN block or one SlowOnly stage deep, on 8-frame clips (PoseC3D: 32 x 32 heatmaps rendered in the step),
so that XLA:CPU compiles each step in seconds rather than the half minute to minutes of the full models.
"""

from __future__ import annotations

import importlib

GCN_CLIP = (2, 8, 25, 3)  # persons, frames, joints, coordinates
_ZOO = {'stgcn': ('configs.stgcn_ntu60', 'xsub,joint,3d'), 'aagcn': ('configs.agcn_ntu60', 'xsub,joint,3d'),
        'posec3d': ('configs.posec3d_ntu60', 'xsub,keypoint')}


def get_config(arg: str):
  """The zoo config of ``arg`` ('stgcn', 'aagcn' or 'posec3d'), shrunk."""
  module, variant = _ZOO[arg]
  cfg = importlib.import_module(module).get_config(variant)
  if arg == 'stgcn':
    cfg.model.num_stages, cfg.model.inflate_stages, cfg.model.down_stages = 1, (), ()
  elif arg == 'posec3d':
    backbone = cfg.model.backbone
    backbone.num_stages, backbone.stage_blocks, backbone.out_indices = 1, (1,), (0,)
    backbone.inflate, backbone.spatial_strides = (1,), (2,)
    backbone.temporal_strides, backbone.dilations = (1,), (1,)
    cfg.train_pipeline[0]['clip_len'] = 8
    cfg.device_heatmap.height = cfg.device_heatmap.width = 32
  return cfg


def use_in(model_benchmark) -> None:
  """Points ``model_benchmark.MODELS``' three entries at these configs (in the calling process only)."""
  for name in _ZOO:
    model_benchmark.MODELS[name] = (__name__, name, None if name == 'posec3d' else GCN_CLIP)
  # The AAGCN recognizer has no depth argument (its backbone always builds MMAction2's 10 blocks): shorten
  # the backbone's stage list instead. Explicit arguments (ST-GCN's backbone passes them) still win.
  from skeljax.models.gcn import backbone  # pylint: disable=import-outside-toplevel
  full_specs = backbone.stage_specs

  def one_block_specs(in_channels, base_channels=64, num_stages=1, inflate_stages=(), down_stages=()):
    return full_specs(in_channels, base_channels, num_stages, inflate_stages, down_stages)

  backbone.stage_specs = one_block_specs
