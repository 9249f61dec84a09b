"""DG-STGCN recipes shared by ``dgstgcn_ntu60/120.py`` and ``dgstgcn_nwucla.py`` (not a config itself).

NTU: PySKL ``configs/dgstgcn/{ntu60,ntu120}_{xsub,xview,xset}_3dkp/{j,b,jm,bm}.py`` (3D only, the only
annotations PySKL trains DG-STGCN on): ``PreNormalize3D(align_spine=False)`` (PySKL's flag turns off both
rotations, so skeletons are centred, not rotated; MMAction2 names that ``align_spine=False,
align_shoulder=False``), ``RandomRot(theta=0.2)`` when training, GenSkeFeat, UniformSampleFrames(100) (val 1
clip, test 10), FormatGCNInput(2); SGD 0.1 nesterov wd 5e-4, cosine per iteration to 0, 150 epochs, no
RepeatDataset, batch 16 x 8 = 128 (PySKL README: 8 GPUs), validation every epoch.
Model: ``DGSTGCN(gcn_ratio=0.125, gcn_ctr='T', gcn_ada='T', tcn_ms_cfg=[(3,1),(3,2),(3,3),(3,4),('max',3),
'1x1'])`` on the ``mode='random'`` graph (8 filters, N(0.04, 0.02^2)), ``GCNHead(256)``.
NW-UCLA: the shared NW-UCLA recipe (``configs/_gcn_zoo.py`` / ``_nwucla.py``) with this model, one person.
"""

from __future__ import annotations

import ml_collections

from configs import _gcn_ntu, _gcn_zoo, _zoo

MS_CFG = ((3, 1), (3, 2), (3, 3), (3, 4), ('max', 3), '1x1')
# PySKL: PreNormalize3D(align_spine=False), in MMAction2's (and skeljax's) argument names.
CENTRE_ONLY = dict(type='PreNormalize3D', align_spine=False, align_shoulder=False)


def dgstgcn_model(*, num_classes: int, layout: str, num_person: int) -> ml_collections.ConfigDict:
  """DG-STGCN ``cfg.model`` as PySKL's NTU configs build it."""
  return ml_collections.ConfigDict(dict(
      name='dgstgcn', num_classes=num_classes, in_channels=3, num_person=num_person, edition='pyskl',
      graph_cfg=dict(layout=layout, mode='random', num_filter=8, init_off=0.04, init_std=0.02),
      gcn_ratio=0.125, gcn_ctr='T', gcn_ada='T', tcn_ms_cfg=MS_CFG, with_cp=False))


def pyskl_pipelines(*, feat: str, clip_len: int = 100, test_num_clips: int = 10) -> tuple[list, list, list]:
  """PySKL's DG-STGCN pipelines: centre without rotating, RandomRot(0.2) in training, then the 1.x GCN tail."""
  train, val, test = _zoo.gcn_pipelines_1x(dataset='nturgb+d', feat=feat, clip_len=clip_len,
                                           test_num_clips=test_num_clips)
  for pipeline in (train, val, test):
    assert pipeline[0]['type'] == 'PreNormalize3D'
    pipeline[0] = dict(CENTRE_ONLY)
  train.insert(1, dict(type='RandomRot', theta=0.2))
  return train, val, test


def ntu_config(arg: str | None, *, num_classes: int) -> ml_collections.ConfigDict:
  """DG-STGCN on NTU60 (num_classes 60) / NTU120 (120) 3D skeletons for variant ``arg`` (benchmark, stream)."""
  dataset = f'ntu{num_classes}'
  benchmarks = ('xsub', 'xview') if num_classes == 60 else ('xsub', 'xset')
  v = _zoo.parse_arg(arg, allowed=('synthetic',), groups=_gcn_ntu.GROUPS,
                     defaults=dict(benchmark='xsub', stream='joint', dim='3d'))
  if v['benchmark'] not in benchmarks:
    raise ValueError(f'{dataset} benchmarks are {benchmarks}, got {v["benchmark"]!r}')
  if v['dim'] != '3d':
    raise ValueError("DG-STGCN's reference recipe (PySKL) is for 3D skeletons only; there is no 2d variant")
  c = _zoo.base_config()
  c.dataset.name = f'{dataset}/{v["benchmark"]}_3d'
  c.dataset.num_classes = num_classes
  c.dataset.layout = 'nturgb+d'
  c.label_names = dataset
  c.model = dgstgcn_model(num_classes=num_classes, layout='nturgb+d', num_person=2)
  c.train_pipeline, c.val_pipeline, c.test_pipeline = pyskl_pipelines(feat=_zoo.STREAMS[v['stream']])
  c.num_epochs = 150
  c.dataset_repeat = 1
  if 'synthetic' in v:
    _zoo.make_synthetic(c, layout='nturgb+d')
    _zoo.shrink_clips([c.train_pipeline, c.val_pipeline, c.test_pipeline], clip_len=16, test_num_clips=2)
  return c


def nwucla_config(arg: str | None) -> ml_collections.ConfigDict:
  """DG-STGCN on NW-UCLA (cross-view), stream from ``arg``; ``synthetic`` for the smoke run."""
  # The NW-UCLA recipe is shared by every model here (so their NW-UCLA numbers compare); only the model differs.
  return _gcn_zoo.nwucla_config(arg, model_fn=dgstgcn_model)
