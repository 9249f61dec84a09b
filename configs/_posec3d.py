"""The PoseC3D recipe shared by the ``posec3d_*.py`` configs (not a config itself; spec §5.3, §5.6).

MMAction2 1.x: SlowOnly-R50 on 17-channel heatmap volumes, 48 frames, 56x56 train crops (64x64 test), batch
16 x 8 = 128, SGD 0.2 / momentum 0.9 / wd 3e-4, grad clip 40, cosine per iteration over 24 epochs x
RepeatDataset(10) (0.x ran 240 plain epochs: the same number of passes). Test: 10 clips x 2 flips averaged
by softmax. UCF101 / HMDB51: (3, 4, 6) backbone from the K400 PoseC3D weights (``cfg.init_from``), 48x48 train /
56x56 test, SGD 0.01 / wd 3e-4, step [9, 11] over 12 epochs x RepeatDataset(10).
"""

from __future__ import annotations

import ml_collections

from configs import _zoo

GROUPS = {'modality': ('keypoint', 'limb')}
FLAGS = ('synthetic', 'host_heatmap')


def posec3d_config(arg: str | None, *, dataset: str, num_classes: int, benchmarks: tuple[str, ...] = (),
                   small: bool = False, label_names: str | None = None,
                   edition_suffix: str = '', num_person: int = 2,
                   eval_split: str = 'val') -> ml_collections.ConfigDict:
  """A PoseC3D config; ``benchmarks`` are the split tokens (first = default), each a TFDS config named
  ``<benchmark><edition_suffix>`` (e.g. ntu60/xsub_2d); ``small`` = the UCF/HMDB setup; ``num_person``: the
  persons rendered per frame on the device (host-rendered eval heatmaps use every person, as MMAction2);
  ``eval_split``: the TFDS split validated and tested on (UCF101 / HMDB51 have 'test')."""
  groups = dict(GROUPS)
  defaults = dict(modality='keypoint')
  if benchmarks:
    groups['benchmark'] = benchmarks
    defaults['benchmark'] = benchmarks[0]
  v = _zoo.parse_arg(arg, allowed=FLAGS, groups=groups, defaults=defaults)
  c = _zoo.base_config()
  c.dataset.name = dataset + (f'/{v["benchmark"]}{edition_suffix}' if benchmarks else '')
  c.dataset.val_split = c.dataset.test_split = eval_split
  c.dataset.num_classes = num_classes
  c.dataset.layout = 'coco'
  c.label_names = label_names
  c.model = _zoo.posec3d_model(num_classes, stage_blocks=(3, 4, 6) if small else (4, 6, 3))
  sizes = dict(train_size=48, eval_resize=56, eval_size=56) if small else {}
  train, val, test, device = _zoo.posec3d_pipelines(modality=v['modality'], num_person=num_person,
                                                     device_heatmap='host_heatmap' not in v, **sizes)
  c.train_pipeline, c.val_pipeline, c.test_pipeline = train, val, test
  c.device_heatmap = device
  _zoo.posec3d_recipe(c)
  if small:
    c.num_epochs = 12
    c.optimizer.lr = 0.01
    c.require_init_from = True  # from the K400 PoseC3D weights
    _zoo.step_schedule(c, [9, 11])
  if 'synthetic' in v:
    _zoo.make_synthetic(c, layout='coco')
    _zoo.shrink_clips([c.train_pipeline, c.val_pipeline, c.test_pipeline], clip_len=8, test_num_clips=2)
    c.eval.batch_size = 4
  return c
