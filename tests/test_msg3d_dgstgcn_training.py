"""MS-G3D's and DG-STGCN's ``synthetic`` config variants through the real engine (``train.train_and_evaluate``):
two steps on slices of the built embedded dataset, validation, and a checkpoint.

The networks are slimmed (MS-G3D: fewer channels and scales; DG-STGCN: one block of 8 channels) because the engine compiles its init and train step as whole programs, whose XLA:CPU compile time
grows with the number of tensors: the wiring through the config, pipeline and engine is the point here; the
full networks are covered by the parity tests. DG-STGCN's run goes through its PySKL pipeline (centring without
rotation, RandomRot). Evaluation with the test pipeline is the engine's own, tested on ST-GCN.
"""

from __future__ import annotations

import importlib

import numpy as np
import pytest

from skeljax import checkpointing, logging_utils, train

SLIM = {
    'msg3d_ntu60': dict(base_channels=12, num_gcn_scales=3, num_g3d_scales=2),
    'dgstgcn_ntu60': dict(base_channels=8, num_stages=1),
}


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from data_builders import build  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp('tfds')
  build.build('synthetic_skeleton/ntu25_3d', data_dir=path, max_examples_per_split=8)
  return path


# MS-G3D's three stages stay whole (its reference has no stage arguments), so its engine run compiles ~460 tensors'
# init and update: ~90 s on 2 loaded cores, hence the slow tier; DG-STGCN's two-block run is the fast-tier path.
@pytest.mark.parametrize('name', [pytest.param('msg3d_ntu60', marks=pytest.mark.slow), 'dgstgcn_ntu60'])
def test_synthetic_variant_trains_through_the_engine(name, data_dir, tmp_path):
  cfg = importlib.import_module(f'configs.{name}').get_config('synthetic')
  cfg.model.update(SLIM[name])
  cfg.dataset.data_dir = str(data_dir)
  cfg.dataset.train_split = 'train[:8]'
  cfg.dataset.val_split = cfg.dataset.test_split = 'val[:4]'
  cfg.global_batch_size = 4
  cfg.num_epochs = 1
  cfg.eval.batch_size = 4
  cfg.log_every_steps = 1
  if name.startswith('dgstgcn'):
    assert [op['type'] for op in cfg.train_pipeline[:2]] == ['PreNormalize3D', 'RandomRot']

  result = train.train_and_evaluate(cfg, tmp_path)
  assert result['step'] == 2 and not result['preempted']
  records = logging_utils.read_metrics(tmp_path)
  steps = [r for r in records if r['split'] == 'train']
  assert [r['step'] for r in steps] == [1, 2]
  assert all(np.isfinite(r['loss']) and r['grad_norm'] > 0 for r in steps)
  val = [r for r in records if r['split'] == 'val']
  assert [r['step'] for r in val] == [2] and 0.0 <= val[0]['top1'] <= 1.0
  assert checkpointing.resolve_step_dir(tmp_path, prefer='latest').name == '2'
