"""NW-UCLA cross-view recipe shared by ``stgcn_nwucla.py`` and ``agcn_nwucla.py`` (not a config itself).

MMAction2 has no NW-UCLA config; this follows CTR-GCN's (Chen et al., ICCV 2021) ``config/ucla/default.yaml``
and ``feeders/feeder_ucla.py``, the setup later GCN papers report on: views 1 + 2 train (1,020 clips), view 3
test (464), 10 classes, one person, 20 Kinect v1 joints, 52-frame clips, RepeatDataset(5), batch 16,
SGD 0.1 nesterov wd 1e-4, 65 epochs, x0.1 at epoch 50, 5 warm-up epochs (lr x (epoch + 1) / 5).

Differences from CTR-GCN's feeder, on purpose: frames are chosen by MMAction2's ``UniformSampleFrames`` (one
random frame per segment when training, deterministic when testing) instead of CTR-GCN's sorted random
draw / ``linspace``; normalisation is MMAction2's ``PreNormalize3D`` (spine / shoulder alignment) instead of
centring on joint 1 plus per-sample min-max scaling; CTR-GCN's random rotation (+-60 deg about x and y) and
scaling (0.5-1.5) augmentation has no MMAction2 transform and is not applied.
"""

from __future__ import annotations

import ml_collections

from configs import _zoo

GROUPS = {'stream': tuple(_zoo.STREAMS)}


def nwucla_config(arg: str | None, *, model: str) -> ml_collections.ConfigDict:
  """ST-GCN ('stgcn') or 2s-AGCN ('agcn', the 1.x AAGCN unit) on NW-UCLA, stream from ``arg``."""
  v = _zoo.parse_arg(arg, allowed=('synthetic',), groups=GROUPS, defaults=dict(stream='joint'))
  feat = _zoo.STREAMS[v['stream']]
  c = _zoo.base_config()
  c.dataset.name = 'nwucla/xview'
  c.dataset.num_classes = 10
  c.dataset.layout = 'nw-ucla'
  if model == 'stgcn':
    c.model = _zoo.gcn_model('stgcn', num_classes=10, layout='nw-ucla', strategy='stgcn_spatial', num_person=1)
  else:
    c.model = _zoo.gcn_model('aagcn', num_classes=10, layout='nw-ucla', strategy='spatial', num_person=1,
                             data_bn_type='MVC', attention=False)
  c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_1x(
      dataset='nw-ucla', feat=feat, clip_len=52, num_person=1, test_num_clips=1)
  c.global_batch_size = 16
  c.num_epochs = 65
  c.dataset_repeat = 5
  c.optimizer.weight_decay = 1e-4
  _zoo.step_schedule(c, [50])
  c.schedule.warmup_epochs = 5
  c.schedule.warmup_style = 'epoch'  # CTR-GCN: lr * (epoch + 1) / 5 during warm-up, a step per epoch
  if 'synthetic' in v:
    _zoo.make_synthetic(c, layout='nturgb+d')
    c.dataset.layout = 'nturgb+d'
    c.model.graph_cfg.layout = 'nturgb+d'
    c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_1x(
        dataset='nturgb+d', feat=feat, clip_len=16, num_person=1, test_num_clips=1)
  return c
