"""ST-GCN++ / CTR-GCN configs, every variant, without building a model (test_configs.py builds one per model).

Recipe numbers are the reference configs' (MMAction2 ``stgcnpp_8xb16-joint-u100-80e_*`` and
``projects/ctrgcn``, PySKL ``stgcn++`` / ``ctrgcn``; spec §6.4), not derived from skeljax.
"""

from __future__ import annotations

import importlib
import itertools

import pytest

FAMILIES = {'stgcnpp': dict(name='stgcn', gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn'),
            'ctrgcn': dict(name='ctrgcn')}
NTU_VARIANTS = [(classes, bench, stream, dim) for classes, benches in ((60, ('xsub', 'xview')), (120, ('xsub', 'xset')))
                for bench, stream, dim in itertools.product(benches, ('joint', 'bone', 'jm', 'bm'), ('2d', '3d'))]
FEATS = {'joint': 'j', 'bone': 'b', 'jm': 'jm', 'bm': 'bm'}


def load(name, arg):
  return importlib.import_module(f'configs.{name}').get_config(arg)


def _ops(pipeline, op_type):
  return [op for op in pipeline if op['type'] == op_type]


@pytest.mark.parametrize('family', list(FAMILIES))
def test_ntu_variants_are_the_reference_recipe(family):
  for classes, bench, stream, dim in NTU_VARIANTS:
    c = load(f'{family}_ntu{classes}', f'{bench},{stream},{dim}')
    layout = 'nturgb+d' if dim == '3d' else 'coco'
    assert c.dataset.name == f'ntu{classes}/{bench}_{dim}' and c.dataset.num_classes == classes
    assert {k: c.model[k] for k in FAMILIES[family]} == FAMILIES[family]
    assert c.model.graph_cfg.to_dict() == {'layout': layout, 'strategy': 'spatial'}
    assert (c.model.num_classes, c.model.num_person, c.model.edition) == (classes, 2, '1.x')
    assert (c.global_batch_size, c.num_epochs, c.dataset_repeat) == (128, 16, 5)
    assert (c.optimizer.name, c.optimizer.lr, c.optimizer.momentum, c.optimizer.nesterov,
            c.optimizer.weight_decay) == ('sgd', 0.1, 0.9, True, 5e-4)
    assert (c.schedule.name, c.schedule.by_iteration, c.schedule.warmup_epochs) == ('cosine', True, 0)
    for pipeline, clips in ((c.train_pipeline, 1), (c.val_pipeline, 1), (c.test_pipeline, 10)):
      assert pipeline[0]['type'] == ('PreNormalize3D' if dim == '3d' else 'PreNormalize2D')
      assert _ops(pipeline, 'GenSkeFeat') == [dict(type='GenSkeFeat', dataset=layout, feats=[FEATS[stream]])]
      sampler, = _ops(pipeline, 'UniformSampleFrames')
      assert sampler['clip_len'] == 100 and sampler.get('num_clips', 1) == clips
    assert c.eval.average_clips == 'prob'


@pytest.mark.parametrize('family', list(FAMILIES))
def test_nwucla_variants_and_synthetic_smoke_runs(family):
  for stream in ('joint', 'bone', 'jm', 'bm'):
    c = load(f'{family}_nwucla', stream)
    assert (c.dataset.name, c.model.num_classes, c.model.num_person) == ('nwucla/xview', 10, 1)
    assert c.model.graph_cfg.to_dict() == {'layout': 'nw-ucla', 'strategy': 'spatial'}
    assert {k: c.model[k] for k in FAMILIES[family]} == FAMILIES[family]
    assert (c.global_batch_size, c.num_epochs, c.schedule.milestones, c.schedule.warmup_epochs) == (16, 65, [50], 5)
    assert _ops(c.train_pipeline, 'UniformSampleFrames')[0]['clip_len'] == 52
  for name in (f'{family}_ntu60', f'{family}_ntu120', f'{family}_nwucla'):
    c = load(name, 'synthetic')
    assert c.dataset.name == 'synthetic_skeleton/ntu25_3d' and c.model.num_classes == c.dataset.num_classes
    assert c.model.graph_cfg.layout == 'nturgb+d' and {k: c.model[k] for k in FAMILIES[family]} == FAMILIES[family]
  c = load(f'{family}_ntu60', 'synthetic,2d')
  assert c.dataset.name == 'synthetic_skeleton/coco17_2d' and c.model.graph_cfg.layout == 'coco'


@pytest.mark.parametrize('name, arg, match', [
    ('stgcnpp_ntu60', '0x,3d', 'ST-GCN\\+\\+ has no MMAction2 0.x recipe'),
    ('ctrgcn_ntu60', 'xsub,0x', 'CTR-GCN has no MMAction2 0.x recipe'),
    ('ctrgcn_ntu120', 'xview', 'benchmarks'),
    ('stgcnpp_ntu60', 'xset', 'benchmarks'),
    ('stgcnpp_nwucla', 'xsub', "unknown config variant 'xsub'"),
])
def test_bad_variants_are_errors(name, arg, match):
  with pytest.raises(ValueError, match=match):
    load(name, arg)


@pytest.mark.parametrize('name', ['stgcnpp_ntu60', 'stgcnpp_ntu120', 'ctrgcn_ntu60', 'ctrgcn_ntu120'])
def test_docstring_gives_commands_fusion_and_reference_accuracy(name):
  doc = importlib.import_module(f'configs.{name}').__doc__
  assert f'--config=configs/{name}.py:' in doc and '--mode=eval --out=' in doc
  assert 'skeljax.tools.fuse' in doc and '--coefficients 2 2 1 1' in doc and 'Expected top-1' in doc
