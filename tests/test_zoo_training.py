"""Zoo configs' ``synthetic`` variants through the real engine (``train.train_and_evaluate`` + ``evaluate``).

Each case trains a few steps on slices of the built embedded dataset, validates, and evaluates the final
checkpoint with the test pipeline: PoseC3D with device-rendered heatmaps, grad clipping and host-rendered
multi-clip x flip test volumes (backbone shrunk to one stage: the wiring is the point, the full network is covered
by the parity tests); ST-GCN on BABEL's class-balanced focal loss and on NW-UCLA's warm-up + step schedule.
"""

from __future__ import annotations

import pytest

from engine_runs import train_two_steps, two_step_config
from skeljax import evaluate, train

TINY_BACKBONE = dict(num_stages=1, stage_blocks=(1,), out_indices=(0,), inflate=(1,), spatial_strides=(2,),
                     temporal_strides=(1,), dilations=(1,))


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from data_builders import build  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp('tfds')
  for edition in ('ntu25_3d', 'coco17_2d'):
    build.build(f'synthetic_skeleton/{edition}', data_dir=path, max_examples_per_split=16)
  return path


def _train_and_test(cfg, workdir):
  records = train_two_steps(cfg, workdir)
  tested = evaluate.evaluate(cfg, workdir, out=workdir / 'result.pkl')
  assert tested['num_samples'] == 4 and 0.0 <= tested['top1'] <= 1.0
  return [r for r in records if r['split'] == 'train']


def test_posec3d_synthetic_trains_on_device_heatmaps_and_tests_flipped_clips(data_dir, tmp_path):
  cfg = two_step_config('posec3d_ntu60', 'synthetic', data_dir)
  cfg.model.backbone.update(TINY_BACKBONE)
  assert cfg.device_heatmap is not None and cfg.grad_clip_norm == 40
  assert not any(op['type'] == 'GeneratePoseTarget' for op in cfg.train_pipeline)  # rendered in the step
  _train_and_test(cfg, tmp_path)


@pytest.mark.slow  # fast tier: the CB focal loss against its formula (test_losses), the engine via other recipes
def test_babel_synthetic_trains_with_class_balanced_focal_loss(data_dir, tmp_path):
  cfg = two_step_config('stgcn_babel', 'synthetic,wfl', data_dir)
  assert cfg.loss.name == 'cb_focal' and len(cfg.loss.samples_per_cls) == cfg.model.num_classes
  _train_and_test(cfg, tmp_path)


@pytest.mark.slow  # fast tier: the epoch-style warm-up schedule (test_optim), the engine via other recipes
def test_nwucla_synthetic_trains_through_warmup(data_dir, tmp_path):
  cfg = two_step_config('stgcn_nwucla', 'synthetic', data_dir)
  assert cfg.schedule.warmup_epochs > 0 and cfg.schedule.warmup_style == 'epoch'
  records = _train_and_test(cfg, tmp_path)
  # Epoch 0 of 5 warm-up epochs: lr = base / 5 on both steps.
  assert [r['lr'] for r in records] == pytest.approx([cfg.optimizer.lr / cfg.schedule.warmup_epochs] * 2)


def test_fine_tuning_recipes_refuse_to_start_from_scratch(data_dir, tmp_path):
  assert two_step_config('posec3d_ucf101', 'split1', data_dir).require_init_from
  assert two_step_config('posec3d_hmdb51', 'split2', data_dir).require_init_from
  cfg = two_step_config('posec3d_ucf101', 'synthetic', data_dir)
  assert not cfg.require_init_from  # the smoke run trains from scratch
  cfg.require_init_from = True
  with pytest.raises(train.InitFromRequiredError, match='--config.init_from'):
    train.train_and_evaluate(cfg, tmp_path)
  assert not list(tmp_path.glob('checkpoints/*'))
