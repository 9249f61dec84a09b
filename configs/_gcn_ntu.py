"""The NTU RGB+D GCN recipes shared by ``stgcn_ntu60/120.py`` and ``agcn_ntu60/120.py`` (not a config itself).

1.x / PySKL recipe (spec §6.2, §6.4): UniformSampleFrames(100), streams j/b/jm/bm via GenSkeFeat, batch
16 x 8 = 128, SGD 0.1 nesterov wd 5e-4, cosine per iteration, 16 epochs x RepeatDataset(5), val 1 clip,
test 10 clips averaged by softmax. 0.x seed recipe (spec §4.4, §6.3, §6.4): PaddingWithLoop(300), no
augmentation, step LR, 80 epochs, 0.x graphs (``ntu-rgb+d`` / ``coco-0x``) and the 0.x head, so the 0.x
MMAction2 checkpoints load and evaluate. Its 3D variants read ``ntu60/xsub_3d_0x``: the data 0.x
``gen_ntu_rgbd_raw.py`` made (top-2 energy bodies, 2s-AGCN pre_normalization; ``skeljax.data.ntu_raw_0x``).
"""

from __future__ import annotations

import ml_collections

from configs import _zoo

GROUPS = {'benchmark': ('xsub', 'xview', 'xset'), 'stream': tuple(_zoo.STREAMS), 'dim': ('2d', '3d')}


def ntu_config(arg: str | None, *, model: str, num_classes: int) -> ml_collections.ConfigDict:
  """ST-GCN ('stgcn') or 2s-AGCN ('agcn') on NTU60 (num_classes 60) / NTU120 (120) for variant ``arg``."""
  dataset = f'ntu{num_classes}'
  benchmarks = ('xsub', 'xview') if num_classes == 60 else ('xsub', 'xset')
  v = _zoo.parse_arg(arg, allowed=('0x', 'synthetic'), groups=GROUPS,
                     defaults=dict(benchmark='xsub', stream='joint', dim='3d'))
  if v['benchmark'] not in benchmarks:
    raise ValueError(f'{dataset} benchmarks are {benchmarks}, got {v["benchmark"]!r}')
  feat = _zoo.STREAMS[v['stream']]
  is_3d = v['dim'] == '3d'
  c = _zoo.base_config()
  c.dataset.name = f'{dataset}/{v["benchmark"]}_{v["dim"]}'
  c.dataset.num_classes = num_classes
  c.label_names = dataset

  if '0x' in v:
    _seed_recipe(c, v, model=model, feat=feat, is_3d=is_3d, num_classes=num_classes)
  else:
    layout = 'nturgb+d' if is_3d else 'coco'
    c.dataset.layout = layout
    if model == 'stgcn':
      c.model = _zoo.gcn_model('stgcn', num_classes=num_classes, layout=layout, strategy='stgcn_spatial')
    else:  # MMAction2 1.x "2s-agcn" = AAGCN without attention, data BN over M*V*C
      c.model = _zoo.gcn_model('aagcn', num_classes=num_classes, layout=layout, strategy='spatial',
                               data_bn_type='MVC', attention=False)
    c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_1x(dataset=layout, feat=feat)

  if 'synthetic' in v:
    _zoo.make_synthetic(c, layout='nturgb+d' if is_3d else 'coco')
    _zoo.shrink_clips([c.train_pipeline, c.val_pipeline, c.test_pipeline], clip_len=16, test_num_clips=2)
  return c


def _seed_recipe(c, v, *, model: str, feat: str, is_3d: bool, num_classes: int) -> None:
  """MMAction2 0.x: ST-GCN NTU60-xsub 2D/3D joint, 2s-AGCN NTU60-xsub 3D joint/bone."""
  if num_classes != 60 or v['benchmark'] != 'xsub':
    raise ValueError('the 0.x seed recipe exists for NTU60 xsub only')
  if model == 'stgcn' and feat != 'j':
    raise ValueError('the 0.x ST-GCN configs are joint-only; use the 1.x recipe for other streams')
  if model == 'agcn' and (feat not in ('j', 'b') or not is_3d):
    raise ValueError('the 0.x 2s-AGCN configs are 3D joint and 3D bone')
  layout = 'ntu-rgb+d' if is_3d else 'coco-0x'
  c.dataset.layout = layout
  if is_3d:
    # The 0.x 3D checkpoints were trained on offline pre-normalised data, not on the PySKL-denoised xsub_3d.
    c.dataset.name = 'ntu60/xsub_3d_0x'
  if model == 'stgcn':
    c.model = _zoo.gcn_model('stgcn', num_classes=60, layout=layout, strategy='stgcn_spatial', edition='0.x',
                             head='stgcn0x')
    # README: 2D trained on 2 GPUs x 16, 3D on 1 GPU x 32.
    c.global_batch_size = 32
    milestones = [10, 50]
  else:
    c.model = _zoo.gcn_model('agcn', num_classes=60, layout=layout, strategy='spatial', edition='0.x',
                             head='stgcn0x')
    c.global_batch_size = 24  # metafile: 12 per GPU
    milestones = [30, 40]
    c.eval.every_epochs = 3
  c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_0x(
      normalize_2d=not is_3d, bone=feat == 'b')
  c.num_epochs = 80
  c.dataset_repeat = 1
  c.optimizer.weight_decay = 1e-4
  _zoo.step_schedule(c, milestones)
  # 0.x tests one 300-frame clip and reports raw logits (fusion then sums logits).
  c.eval.average_clips = 'score'
