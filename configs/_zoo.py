"""Building blocks shared by the model-zoo configs: variant parsing, the base recipe, pipelines, heads.

Not a config itself (the leading underscore keeps it out of the config list). Each zoo config composes
these pieces into one reference recipe, so a reader can check a config against MMAction2's file line by line.
Recipes follow MMAction2 (1.x unless a variant says ``0x``); see docs/reference_spec.md §4.4, §5.6, §6, §7.

PoseC3D heatmaps: the train pipeline ends with ``PackPoseKeypoints`` and ``cfg.device_heatmap`` renders the
volume inside the jitted step (only keypoints cross host -> device). Val/test pipelines render on the host
with MMAction2's ``GeneratePoseTarget`` (test: ``double=True`` flip averaging, 64x64 crops), because those
sizes differ from training and eval throughput matters less. So a batch with ``keypoint`` is rendered with
``cfg.device_heatmap``; a batch with ``inputs`` already holds the volume. The ``host_heatmap`` variant
token renders on the host everywhere (MMAction2's exact pipeline).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import ml_collections
from ml_collections import config_dict

from skeljax.data import synthetic

# ---------------------------------------------------------------------------------------------------------
# Variants: ``get_config('xsub,bone,3d')`` -> set of tokens; ``key=value`` tokens are kept as strings.
# ---------------------------------------------------------------------------------------------------------

STREAMS = {'joint': 'j', 'j': 'j', 'bone': 'b', 'b': 'b', 'joint_motion': 'jm', 'jm': 'jm',
           'bone_motion': 'bm', 'bm': 'bm'}
STREAM_NAMES = {'j': 'joint', 'b': 'bone', 'jm': 'joint-motion', 'bm': 'bone-motion'}


def parse_arg(arg: str | None, *, allowed: Iterable[str], defaults: dict[str, str],
              groups: dict[str, Sequence[str]]) -> dict[str, str]:
  """Parses 'xsub,bone,3d' into {group: token} using ``groups`` (e.g. {'benchmark': ('xsub', 'xview')}).

  ``allowed`` lists extra boolean tokens (e.g. 'synthetic', '0x'); they map to themselves with value 'true'.
  An unknown token raises with the list of accepted ones, so a typo never silently selects a default.
  """
  chosen = dict(defaults)
  allowed = set(allowed)
  for token in (t.strip() for t in (arg or '').split(',')):
    if not token:
      continue
    for group, options in groups.items():
      if token in options:
        chosen[group] = token
        break
    else:
      if token in allowed:
        chosen[token] = 'true'
      else:
        accepted = sorted(allowed | {o for options in groups.values() for o in options})
        raise ValueError(f'unknown config variant {token!r}; accepted: {accepted}')
  return chosen


# ---------------------------------------------------------------------------------------------------------
# The base recipe: every field of the config schema (docs/design.md), 1.x GCN defaults.
# ---------------------------------------------------------------------------------------------------------


def base_config() -> ml_collections.ConfigDict:
  """Every field the engine reads, with MMAction2 1.x GCN values; configs override what differs."""
  c = ml_collections.ConfigDict()
  c.seed = 0
  c.deterministic = False
  c.model = ml_collections.ConfigDict()
  c.dataset = ml_collections.ConfigDict(dict(
      name='', data_dir=config_dict.placeholder(str), train_split='train', val_split='val', test_split='val',
      num_classes=60, layout='nturgb+d'))
  c.train_pipeline = []
  c.val_pipeline = []
  c.test_pipeline = []
  c.device_heatmap = None
  c.global_batch_size = 128
  c.num_epochs = 16
  c.dataset_repeat = 5
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', lr=0.1, momentum=0.9, nesterov=True,
                                               weight_decay=5e-4))
  c.schedule = ml_collections.ConfigDict(dict(name='cosine', by_iteration=True, milestones=[], gamma=0.1,
                                              eta_min=0.0, warmup_epochs=0, warmup_start_factor=0.1,
                                              warmup_style='linear'))
  c.grad_clip_norm = None
  c.loss = ml_collections.ConfigDict(dict(name='cross_entropy', samples_per_cls=[], beta=0.9999, gamma=2.0))
  c.eval = ml_collections.ConfigDict(dict(every_epochs=1, average_clips='prob', topk=(1, 5), batch_size=64))
  # Test clips are the test pipeline's (the recipe's); set this to override them, e.g. 1 for a quick test.
  c.eval.test_num_clips = config_dict.placeholder(int)
  c.compute_dtype = 'float32'
  c.checkpoint = ml_collections.ConfigDict(dict(every_steps=500, keep_latest=1, keep_best=1))
  c.checkpoint['async'] = True  # 'async' is a keyword, so it cannot be a dict(...) argument
  c.log_every_steps = 50
  c.worker_count = 0
  c.init_from = config_dict.placeholder(str)
  c.require_init_from = False  # fine-tuning recipes: refuse to start from scratch without init_from
  c.label_names = config_dict.placeholder(str)
  return c


def step_schedule(c: ml_collections.ConfigDict, milestones: Sequence[int], *, by_iteration: bool = False) -> None:
  """MMAction2 MultiStepLR / 0.x ``lr_config=dict(policy='step')``: x0.1 at each epoch milestone."""
  c.schedule.name = 'step'
  c.schedule.milestones = list(milestones)
  c.schedule.by_iteration = by_iteration
  c.schedule.gamma = 0.1


# ---------------------------------------------------------------------------------------------------------
# GCN pipelines.
# ---------------------------------------------------------------------------------------------------------


def gcn_pipelines_1x(*, dataset: str, feat: str, clip_len: int = 100, num_person: int = 2,
                     test_num_clips: int = 10, pre_normalize: str | None = None) -> tuple[list, list, list]:
  """MMAction2 1.x / PySKL GCN pipelines (spec §6.2): PreNormalize -> GenSkeFeat -> UniformSampleFrames ->
  PoseDecode -> FormatGCNInput -> PackActionInputs. ``pre_normalize`` defaults by dataset (3D / 2D)."""
  if pre_normalize is None:
    pre_normalize = 'PreNormalize3D' if dataset in ('nturgb+d', 'nw-ucla') else 'PreNormalize2D'
  head = [dict(type=pre_normalize), dict(type='GenSkeFeat', dataset=dataset, feats=[feat])]
  tail = [dict(type='PoseDecode'), dict(type='FormatGCNInput', num_person=num_person),
          dict(type='PackActionInputs')]
  train = head + [dict(type='UniformSampleFrames', clip_len=clip_len)] + tail
  val = head + [dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=1, test_mode=True)] + tail
  test = head + [dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=test_num_clips,
                      test_mode=True)] + tail
  return train, val, test


def gcn_pipelines_0x(*, normalize_2d: bool, bone: bool = False, clip_len: int | None = 300,
                     num_person: int = 2) -> tuple[list, list, list]:
  """MMAction2 0.x seed pipelines (spec §6.3, §4.4, §7): train = val = test, no augmentation, one clip.

  ``clip_len=None`` keeps every frame (BABEL's fixed 150-frame clips); FormatGCNInput's 0.x 'NCTVM' mode
  appends the 2D score channel and pads/truncates persons, with skeljax's channel-last output.
  """
  ops = [] if clip_len is None else [dict(type='PaddingWithLoop', clip_len=clip_len)]
  ops.append(dict(type='PoseDecode'))
  if bone:
    ops.append(dict(type='JointToBone', dataset='nturgb+d'))
  ops.append(dict(type='FormatGCNInput', input_format='NCTVM', num_person=num_person))
  if normalize_2d:
    ops.append(dict(type='PoseNormalize'))
  ops.append(dict(type='PackActionInputs'))
  return ops, list(ops), list(ops)


# GCN families whose backbone recomputes block activations on request (MS-G3D's stages are not blocks).
WITH_CP_FAMILIES = ('stgcn', 'stgcnpp', 'agcn', 'aagcn', 'ctrgcn', 'dgstgcn')


def gcn_model(name: str, *, num_classes: int, layout: str, strategy: str, edition: str = '1.x',
              num_person: int = 2, **kwargs) -> ml_collections.ConfigDict:
  """A GCN ``cfg.model`` block (``skeljax.models.create_model``); ``with_cp`` (off) where the family has it, so
  that ``--config.model.with_cp=True`` turns on activation recomputation."""
  if name in WITH_CP_FAMILIES:
    kwargs.setdefault('with_cp', False)
  return ml_collections.ConfigDict(dict(name=name, num_classes=num_classes, in_channels=3,
                                        graph_cfg=dict(layout=layout, strategy=strategy), edition=edition,
                                        num_person=num_person, **kwargs))


# ---------------------------------------------------------------------------------------------------------
# PoseC3D pipelines (spec §5.3).
# ---------------------------------------------------------------------------------------------------------

COCO_LEFT_KP = [1, 3, 5, 7, 9, 11, 13, 15]
COCO_RIGHT_KP = [2, 4, 6, 8, 10, 12, 14, 16]
# The limb list every MMAction2 limb config passes (config order; differs from GeneratePoseTarget's default).
COCO_LIMBS = [[0, 5], [0, 6], [5, 7], [7, 9], [6, 8], [8, 10], [5, 11], [11, 13], [13, 15], [6, 12],
              [12, 14], [14, 16], [0, 1], [0, 2], [1, 3], [2, 4], [11, 12]]
FORMAT_SHAPE = dict(type='FormatShape', input_format='NCTHW_Heatmap')
COCO_LEFT_LIMB = [0, 2, 3, 6, 7, 8, 12, 14]
COCO_RIGHT_LIMB = [1, 4, 5, 9, 10, 11, 13, 15]


def heatmap_args(modality: str) -> dict:
  """GeneratePoseTarget arguments for 'keypoint' or 'limb' volumes (sigma 0.6, scores as peak values)."""
  if modality == 'keypoint':
    return dict(sigma=0.6, use_score=True, with_kp=True, with_limb=False)
  if modality == 'limb':
    return dict(sigma=0.6, use_score=True, with_kp=False, with_limb=True, skeletons=COCO_LIMBS)
  raise ValueError(f"modality must be 'keypoint' or 'limb', got {modality!r}")


def posec3d_pipelines(*, modality: str, clip_len: int = 48, train_size: int = 56, eval_size: int = 64,
                      eval_resize: int = 64, test_num_clips: int = 10, num_person: int = 2,
                      device_heatmap: bool = True) -> tuple[list, list, list, dict | None]:
  """(train, val, test, device_heatmap) for PoseC3D: UniformSampleFrames(48) -> PoseDecode -> PoseCompact ->
  Resize(-1, 64) -> RandomResizedCrop -> Resize(56) -> Flip -> heatmaps; val/test Resize(-1, 64) ->
  CenterCrop(64). UCF/HMDB use ``train_size=48, eval_resize=56, eval_size=56``. ``num_person`` caps the
  persons whose keypoints travel to the device renderer (extra ones: the highest-scoring are kept)."""
  hm = heatmap_args(modality)
  flip_pairs = dict(left_kp=COCO_LEFT_KP, right_kp=COCO_RIGHT_KP)
  limb_pairs = dict(left_limb=COCO_LEFT_LIMB, right_limb=COCO_RIGHT_LIMB) if modality == 'limb' else {}
  compact = [dict(type='PoseDecode'), dict(type='PoseCompact', hw_ratio=1.0, allow_imgpad=True)]
  train = ([dict(type='UniformSampleFrames', clip_len=clip_len)] + compact + [
      dict(type='Resize', scale=(-1, 64)),
      dict(type='RandomResizedCrop', area_range=(0.56, 1.0)),
      dict(type='Resize', scale=(train_size, train_size), keep_ratio=False),
      dict(type='Flip', flip_ratio=0.5, **flip_pairs)])
  if device_heatmap:
    train.append(dict(type='PackPoseKeypoints', num_person=num_person))
    device = dict(hm, height=train_size, width=train_size, double=False, **flip_pairs,
                  skeletons=hm.get('skeletons', COCO_LIMBS), left_limb=COCO_LEFT_LIMB,
                  right_limb=COCO_RIGHT_LIMB)
  else:
    train += [dict(type='GeneratePoseTarget', **hm), FORMAT_SHAPE, dict(type='PackActionInputs')]
    device = None
  eval_geometry = compact + [dict(type='Resize', scale=(-1, eval_resize)),
                             dict(type='CenterCrop', crop_size=eval_size)]
  val = ([dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=1, test_mode=True)] + eval_geometry +
         [dict(type='GeneratePoseTarget', **hm), FORMAT_SHAPE, dict(type='PackActionInputs')])
  test = ([dict(type='UniformSampleFrames', clip_len=clip_len, num_clips=test_num_clips, test_mode=True)] +
          eval_geometry + [dict(type='GeneratePoseTarget', **hm, double=True, **flip_pairs, **limb_pairs),
                           FORMAT_SHAPE, dict(type='PackActionInputs')])
  return train, val, test, device


def posec3d_model(num_classes: int, *, stage_blocks=(4, 6, 3)) -> ml_collections.ConfigDict:
  """PoseC3D ``cfg.model``: ResNet3dSlowOnly (MMAction2 argument names) + I3DHead (dropout 0.5)."""
  backbone = dict(depth=50, in_channels=17, base_channels=32, num_stages=3, out_indices=(2,),
                  stage_blocks=tuple(stage_blocks), conv1_stride_s=1, pool1_stride_s=1, inflate=(0, 1, 1),
                  spatial_strides=(2, 2, 2), temporal_strides=(1, 1, 2), dilations=(1, 1, 1),
                  with_cp=False)
  return ml_collections.ConfigDict(dict(name='posec3d', num_classes=num_classes, backbone=backbone,
                                        dropout=0.5))


def posec3d_recipe(c: ml_collections.ConfigDict) -> None:
  """PoseC3D 1.x schedule (spec §5.6): 16 x 8 = 128 clips, SGD 0.2 / wd 3e-4, clip 40, cosine per
  iteration over 24 epochs x RepeatDataset(10) (= the 0.x 240 epochs)."""
  c.global_batch_size = 128
  c.num_epochs = 24
  c.dataset_repeat = 10
  c.optimizer = ml_collections.ConfigDict(dict(name='sgd', lr=0.2, momentum=0.9, nesterov=False,
                                               weight_decay=3e-4))
  c.schedule.name = 'cosine'
  c.schedule.by_iteration = True
  c.grad_clip_norm = 40.0
  c.eval.batch_size = 16


# ---------------------------------------------------------------------------------------------------------
# The synthetic smoke variant: the embedded synthetic_skeleton dataset, a few steps, small clips.
# ---------------------------------------------------------------------------------------------------------

SYNTHETIC_NUM_CLASSES = len(synthetic.ACTIONS)
SYNTHETIC_DATASETS = {'nturgb+d': 'synthetic_skeleton/ntu25_3d', 'coco': 'synthetic_skeleton/coco17_2d'}


def make_synthetic(c: ml_collections.ConfigDict, *, layout: str) -> None:
  """Turns a zoo config into its smoke run: synthetic data, batch 8, one short epoch, small eval."""
  c.dataset.name = SYNTHETIC_DATASETS[layout]
  c.dataset.num_classes = SYNTHETIC_NUM_CLASSES
  c.dataset.val_split = 'val'
  c.dataset.test_split = 'val'
  c.model.num_classes = SYNTHETIC_NUM_CLASSES
  c.global_batch_size = 8
  c.num_epochs = 1
  c.dataset_repeat = 1
  c.eval.batch_size = 8
  c.checkpoint.every_steps = 50
  c.log_every_steps = 5
  c.label_names = 'synthetic'
  c.init_from = None
  c.require_init_from = False


def shrink_clips(pipelines: Iterable[list], *, clip_len: int, test_num_clips: int | None = None) -> None:
  """Shortens every frame sampler in place (synthetic runs): clip_len, and test clips if given."""
  for pipeline in pipelines:
    for op in pipeline:
      if op['type'] in ('UniformSampleFrames', 'PaddingWithLoop'):
        op['clip_len'] = clip_len
        if test_num_clips is not None and op.get('num_clips', 1) > 1:
          op['num_clips'] = test_num_clips
