"""MS-G3D's and DG-STGCN's ``synthetic`` config variants through the real engine (``train.train_and_evaluate``):
two steps on slices of the built embedded dataset, validation, and a checkpoint.

The networks are slimmed (MS-G3D: fewer channels and scales; DG-STGCN: one block of 8 channels) because the engine compiles its init and train step as whole programs, whose XLA:CPU compile time
grows with the number of tensors: the wiring through the config, pipeline and engine is the point here; the
full networks are covered by the parity tests. DG-STGCN's run goes through its PySKL pipeline (centring without
rotation, RandomRot). Evaluation with the test pipeline is the engine's own, tested on ST-GCN.
"""

from __future__ import annotations

import pytest

from engine_runs import train_two_steps, two_step_config

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
  cfg = two_step_config(name, 'synthetic', data_dir, **SLIM[name])
  if name.startswith('dgstgcn'):
    assert [op['type'] for op in cfg.train_pipeline[:2]] == ['PreNormalize3D', 'RandomRot']
  train_two_steps(cfg, tmp_path)
