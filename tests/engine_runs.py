"""Shared pieces of the tests that run zoo configs through the real engine on the built synthetic dataset."""

from __future__ import annotations

import importlib

import numpy as np


def two_step_config(name: str, arg: str, data_dir, **model_overrides):
  """Config ``configs.<name>:<arg>`` cut to a two-step run: 8 training clips, batch 4, one epoch, 4 val clips."""
  cfg = importlib.import_module(f'configs.{name}').get_config(arg)
  cfg.model.update(model_overrides)
  cfg.dataset.data_dir = str(data_dir)
  cfg.dataset.train_split = 'train[:8]'
  cfg.dataset.val_split = cfg.dataset.test_split = 'val[:4]'
  cfg.global_batch_size = 4
  cfg.num_epochs = 1
  cfg.eval.batch_size = 4
  cfg.log_every_steps = 1
  return cfg


def train_two_steps(cfg, workdir) -> list[dict]:
  """Trains ``cfg`` in ``workdir``; checks both steps were logged with a finite loss and a non-zero gradient, the
  end-of-epoch validation and the step-2 checkpoint. Returns every metrics record."""
  from skeljax import checkpointing, logging_utils, train  # pylint: disable=g-import-not-at-top
  result = train.train_and_evaluate(cfg, workdir)
  assert result['step'] == 2 and not result['preempted']
  records = logging_utils.read_metrics(workdir)
  steps = [r for r in records if r['split'] == 'train']
  assert [r['step'] for r in steps] == [1, 2]
  assert all(np.isfinite(r['loss']) and np.isfinite(r['grad_norm']) and r['grad_norm'] > 0 for r in steps)
  val = [r for r in records if r['split'] == 'val']
  assert [r['step'] for r in val] == [2] and 0.0 <= val[0]['top1'] <= 1.0
  assert checkpointing.resolve_step_dir(workdir, prefer='latest').name == '2'
  return records
