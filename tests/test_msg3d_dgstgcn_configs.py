"""MS-G3D / DG-STGCN configs, every variant, without building a model (test_configs.py builds one per model).

Recipe numbers are the reference configs' (MMAction2 ``projects/msg3d``, PySKL ``msg3d_pyskl_*`` and
``dgstgcn/*_3dkp``), not derived from skeljax.
"""

from __future__ import annotations

import importlib
import itertools

import pytest

BENCHMARKS = {60: ('xsub', 'xview'), 120: ('xsub', 'xset')}
FEATS = {'joint': 'j', 'bone': 'b', 'jm': 'jm', 'bm': 'bm'}
DG_MODEL = dict(name='dgstgcn', gcn_ratio=0.125, gcn_ctr='T', gcn_ada='T', edition='pyskl')
DG_GRAPH = dict(mode='random', num_filter=8, init_off=0.04, init_std=0.02)
MS_CFG = [[3, 1], [3, 2], [3, 3], [3, 4], ['max', 3], '1x1']


def load(name, arg):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def _ops(pipeline, op_type):
  return [op for op in pipeline if op['type'] == op_type]


def _check_tail(c, layout, feat):
  for pipeline, clips in ((c.train_pipeline, 1), (c.val_pipeline, 1), (c.test_pipeline, 10)):
    assert _ops(pipeline, 'GenSkeFeat') == [dict(type='GenSkeFeat', dataset=layout, feats=[feat])]
    sampler, = _ops(pipeline, 'UniformSampleFrames')
    assert sampler['clip_len'] == 100 and sampler.get('num_clips', 1) == clips
    assert sampler.get('test_mode', False) == (pipeline is not c.train_pipeline)
    assert _ops(pipeline, 'FormatGCNInput') == [dict(type='FormatGCNInput', num_person=2)]
  assert (c.optimizer.name, c.optimizer.lr, c.optimizer.momentum, c.optimizer.nesterov,
          c.optimizer.weight_decay) == ('sgd', 0.1, 0.9, True, 5e-4)
  assert (c.schedule.name, c.schedule.by_iteration, c.schedule.eta_min, c.schedule.warmup_epochs) == (
      'cosine', True, 0.0, 0)
  assert (c.global_batch_size, c.eval.every_epochs, c.eval.average_clips) == (128, 1, 'prob')


def test_msg3d_ntu_variants_are_the_reference_recipe():
  for classes in (60, 120):
    for bench, stream, dim in itertools.product(BENCHMARKS[classes], FEATS, ('2d', '3d')):
      c = load(f'msg3d_ntu{classes}', f'{bench},{stream},{dim}')
      layout = 'nturgb+d' if dim == '3d' else 'coco'
      assert c.dataset.name == f'ntu{classes}/{bench}_{dim}' and c.dataset.num_classes == classes
      assert c.model.name == 'msg3d' and c.model.graph_cfg.to_dict() == {'layout': layout, 'strategy': 'binary_adj'}
      assert (c.model.num_classes, c.model.num_person, c.model.edition) == (classes, 2, '1.x')
      assert (c.num_epochs, c.dataset_repeat) == (16, 5)
      for pipeline in (c.train_pipeline, c.val_pipeline, c.test_pipeline):
        assert pipeline[0] == {'type': 'PreNormalize3D' if dim == '3d' else 'PreNormalize2D'}
      _check_tail(c, layout, FEATS[stream])


def test_dgstgcn_ntu_variants_are_the_pyskl_recipe():
  for classes in (60, 120):
    for bench, stream in itertools.product(BENCHMARKS[classes], FEATS):
      c = load(f'dgstgcn_ntu{classes}', f'{bench},{stream}')
      assert c.dataset.name == f'ntu{classes}/{bench}_3d' and c.dataset.num_classes == classes
      assert {k: c.model[k] for k in DG_MODEL} == DG_MODEL
      assert [list(e) if isinstance(e, tuple) else e for e in c.model.tcn_ms_cfg] == MS_CFG
      assert c.model.graph_cfg.to_dict() == dict(layout='nturgb+d', **DG_GRAPH)
      assert (c.model.num_classes, c.model.num_person) == (classes, 2)
      assert (c.num_epochs, c.dataset_repeat) == (150, 1)
      centre_only = {'type': 'PreNormalize3D', 'align_spine': False, 'align_shoulder': False}
      for pipeline in (c.train_pipeline, c.val_pipeline, c.test_pipeline):
        assert pipeline[0] == centre_only
      assert _ops(c.train_pipeline, 'RandomRot') == [{'type': 'RandomRot', 'theta': 0.2}]
      assert not _ops(c.val_pipeline + c.test_pipeline, 'RandomRot')
      _check_tail(c, 'nturgb+d', FEATS[stream])


@pytest.mark.parametrize('family', ['msg3d', 'dgstgcn'])
def test_nwucla_variants_and_synthetic_smoke_runs(family):
  for stream in FEATS:
    c = load(f'{family}_nwucla', stream)
    assert (c.dataset.name, c.model.name, c.model.num_classes, c.model.num_person) == (
        'nwucla/xview', family, 10, 1)
    assert c.model.graph_cfg.layout == 'nw-ucla'
    assert (c.global_batch_size, c.num_epochs, c.schedule.milestones, c.schedule.warmup_epochs) == (16, 65, [50], 5)
    assert _ops(c.train_pipeline, 'UniformSampleFrames')[0]['clip_len'] == 52
  for name in (f'{family}_ntu60', f'{family}_ntu120', f'{family}_nwucla'):
    c = load(name, 'synthetic')
    assert c.dataset.name == 'synthetic_skeleton/ntu25_3d' and c.model.num_classes == c.dataset.num_classes
    assert c.model.name == family and c.model.graph_cfg.layout == 'nturgb+d'
    assert _ops(c.train_pipeline, 'UniformSampleFrames')[0]['clip_len'] == 16


@pytest.mark.parametrize('name, arg, match', [
    ('msg3d_ntu60', '0x,3d', 'MS-G3D has no MMAction2 0.x recipe'),
    ('msg3d_ntu120', 'xview', 'benchmarks'),
    ('dgstgcn_ntu60', 'xsub,joint,2d', '3D skeletons only'),
    ('dgstgcn_ntu60', 'xset', 'benchmarks'),
    ('dgstgcn_ntu120', '0x', "unknown config variant '0x'"),
    ('dgstgcn_nwucla', 'xsub', "unknown config variant 'xsub'"),
])
def test_bad_variants_are_errors(name, arg, match):
  with pytest.raises(ValueError, match=match):
    load(name, arg)


@pytest.mark.parametrize('name', ['msg3d_ntu60', 'msg3d_ntu120', 'dgstgcn_ntu60', 'dgstgcn_ntu120'])
def test_docstring_gives_commands_fusion_and_reference_accuracy(name):
  doc = importlib.import_module(f'configs.{name}').__doc__
  assert f'--config=configs/{name}.py:' in doc and 'python -m skeljax.main' in doc
  assert 'skeljax.tools.fuse' in doc and '--coefficients 2 2 1 1' in doc and 'Expected top-1' in doc
