"""Model-zoo configs: every config and variant loads, builds its model (shapes only) and its pipelines.

Parameter counts are checked against the MMAction2 metafile / spec §9.1 values where the spec lists them.
Pipelines run on a procedurally generated clip (skeljax.data.synthetic) and the model is traced
(``nnx.eval_shape``, no FLOPs) on the pipeline's output, so a config whose pipeline and model disagree fails.
"""

import functools
import importlib
import json
import pathlib

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from flax import nnx

from skeljax.data import synthetic
from skeljax.data.pipeline import build_pipeline
from skeljax.models import create_model

CONFIG_DIR = pathlib.Path(__file__).resolve().parents[1] / 'configs'

# Every zoo config with variants that together cover each token it accepts.
VARIANTS = {
    'stgcn_ntu60': [None, 'xsub,joint,2d', 'xview,bone,3d', 'xsub,jm,3d', 'xview,bm,2d', '0x,2d', '0x,3d',
                    'synthetic', 'synthetic,2d'],
    'stgcn_ntu120': ['xsub,joint,3d', 'xset,bone,2d', 'xsub,jm,2d', 'xset,bm,3d', 'synthetic'],
    'agcn_ntu60': ['xsub,joint,3d', 'xview,bone,2d', 'xsub,jm,3d', 'xsub,bm,2d', '0x,joint', '0x,bone',
                   'synthetic'],
    'agcn_ntu120': ['xsub,joint,3d', 'xset,bone,2d', 'synthetic'],
    'stgcn_babel': ['babel60', 'babel120', 'babel60,wfl', 'babel120,wfl', 'synthetic', 'synthetic,wfl'],
    'posec3d_gym': ['keypoint', 'limb', 'host_heatmap', 'synthetic'],
    'posec3d_ntu60': ['xsub,keypoint', 'xview,limb', 'limb,host_heatmap', 'synthetic', 'synthetic,limb'],
    'posec3d_ntu120': ['xsub,keypoint', 'xset,limb', 'synthetic'],
    'posec3d_ucf101': ['split1', 'split3', 'synthetic'],
    'posec3d_hmdb51': ['split1', 'split2', 'synthetic,host_heatmap'],
    'posec3d_k400': [None, 'synthetic'],
    'stgcn_nwucla': ['joint', 'bone', 'jm', 'synthetic'],
    'agcn_nwucla': ['joint', 'bone', 'bm', 'synthetic'],
    # ST-GCN++ / CTR-GCN: few distinct models (an abstract CTR-GCN build takes ~5 s); every variant's recipe is
    # checked without building in test_zoo_gcn_configs.py, and test_stgcnpp_ctrgcn_parity.py loads the reference
    # checkpoints into the NTU60 xsub joint 3D configs' models (parameter counts included).
    'stgcnpp_ntu60': ['synthetic'],
    'stgcnpp_ntu120': ['synthetic'],
    'stgcnpp_nwucla': ['joint'],
    'ctrgcn_ntu60': ['synthetic,2d'],
    'ctrgcn_ntu120': ['synthetic,2d'],
    'ctrgcn_nwucla': ['joint'],
    # MS-G3D / DG-STGCN, the same way (4 distinct models): every variant's recipe is checked without building in
    # test_msg3d_dgstgcn_configs.py; test_msg3d_dgstgcn_parity.py loads the reference checkpoints into the NTU60
    # xsub joint configs' models (parameter counts included).
    'msg3d_ntu60': ['synthetic'],
    'msg3d_ntu120': ['synthetic'],
    'msg3d_nwucla': ['joint'],
    'dgstgcn_ntu60': ['synthetic'],
    'dgstgcn_ntu120': ['synthetic'],
    'dgstgcn_nwucla': ['joint'],
}
CASES = [(name, arg) for name, args in VARIANTS.items() for arg in args]

# (config, variant) -> learnable parameters, from spec §9.1 (MMAction2 metafiles and the spec's recount).
PARAM_COUNTS = {
    ('stgcn_ntu60', 'xsub,joint,2d'): 3_088_704,     # ST-GCN COCO-17, 60 classes (0.x metafile; 1.x same)
    ('stgcn_ntu60', '0x,2d'): 3_088_704,
    ('stgcn_ntu60', None): 3_098_832,                # ST-GCN NTU-25, 60 classes
    ('stgcn_ntu60', '0x,3d'): 3_098_832,
    ('stgcn_ntu120', 'xsub,joint,3d'): 3_114_252,
    ('agcn_ntu60', 'xsub,joint,3d'): 3_469_520,      # AAGCN 1.x no attention, NTU-25 MVC
    ('agcn_ntu60', 'xview,bone,2d'): 3_459_344,      # ... COCO-17
    ('agcn_ntu60', '0x,joint'): 3_469_360,           # 0.x AGCN (spec recount; metafile says 3,472,176)
    ('posec3d_ntu60', 'xsub,keypoint'): 2_024_860,
    ('posec3d_gym', 'keypoint'): 2_044_867,
    ('posec3d_ntu120', 'xsub,keypoint'): 2_055_640,
    ('posec3d_hmdb51', 'split1'): 3_029_523,         # (3, 4, 6) backbone + 51-way head
    ('posec3d_ucf101', 'split1'): 3_055_173,
    ('posec3d_k400', None): 3_208_560,
}


def load(name, arg):
  return importlib.import_module(f'configs.{name}').get_config(arg)


@functools.lru_cache(maxsize=None)
def _abstract_model(model_json):
  return nnx.eval_shape(lambda: create_model(json.loads(model_json), nnx.Rngs(0)))


def abstract_model(cfg):
  # Variants often share a model (streams, benchmarks): build each distinct one once.
  return _abstract_model(cfg.model.to_json(sort_keys=True))


def count_params(model) -> int:
  return sum(int(np.prod(x.shape)) for x in jax.tree.leaves(nnx.state(model, nnx.Param)))


def test_every_zoo_config_is_listed():
  names = {p.stem for p in CONFIG_DIR.glob('*.py')
           if not p.stem.startswith('_') and p.stem not in ('common', 'stgcn_synthetic')}
  assert names == set(VARIANTS)


@pytest.mark.parametrize('name,arg', CASES)
def test_config_builds(name, arg):
  cfg = load(name, arg)
  assert cfg.model.num_classes == cfg.dataset.num_classes
  assert cfg.dataset.name and cfg.global_batch_size > 0 and cfg.num_epochs > 0
  for pipeline in (cfg.train_pipeline, cfg.val_pipeline, cfg.test_pipeline):
    assert len(build_pipeline(pipeline)) == len(pipeline)
  model = abstract_model(cfg)
  expected = PARAM_COUNTS.get((name, arg))
  if expected is not None:
    assert count_params(model) == expected
  if cfg.loss.name == 'cb_focal':
    assert len(cfg.loss.samples_per_cls) == cfg.dataset.num_classes
  doc = importlib.import_module(f'configs.{name}').__doc__
  assert 'python -m skeljax.' in doc and 'xpected' in doc, 'docstring needs the command and expected accuracy'


def test_unknown_variant_is_an_error():
  with pytest.raises(ValueError, match="unknown config variant 'xsbu'"):
    load('stgcn_ntu60', 'xsbu,joint')
  with pytest.raises(ValueError, match='benchmarks'):
    load('stgcn_ntu120', 'xview')
  with pytest.raises(ValueError, match='0.x'):
    load('agcn_ntu60', '0x,jm')


def test_reference_recipes():
  """Spot checks of recipe numbers against spec §4.4, §5.6, §6.4, §7 (not derived from our code)."""
  c = load('stgcn_ntu60', 'xsub,joint,3d')
  assert (c.global_batch_size, c.num_epochs, c.dataset_repeat) == (128, 16, 5)
  assert (c.optimizer.lr, c.optimizer.weight_decay, c.optimizer.nesterov) == (0.1, 5e-4, True)
  assert (c.schedule.name, c.schedule.by_iteration) == ('cosine', True)
  assert [op['num_clips'] for op in c.test_pipeline if op['type'] == 'UniformSampleFrames'] == [10]
  c = load('stgcn_ntu60', '0x,2d')
  assert (c.num_epochs, c.dataset_repeat, c.schedule.milestones, c.optimizer.weight_decay) == (80, 1, [10, 50], 1e-4)
  assert [op['type'] for op in c.train_pipeline] == [
      'PaddingWithLoop', 'PoseDecode', 'FormatGCNInput', 'PoseNormalize', 'PackActionInputs']
  c = load('agcn_ntu60', '0x,bone')
  assert (c.schedule.milestones, c.global_batch_size) == ([30, 40], 24)
  assert any(op['type'] == 'JointToBone' for op in c.train_pipeline)
  c = load('stgcn_babel', 'babel60,wfl')
  assert c.loss.samples_per_cls[:3] == [518, 1993, 6260] and c.schedule.milestones == [10, 14]
  c = load('posec3d_ntu60', 'xsub,keypoint')
  assert (c.optimizer.lr, c.optimizer.weight_decay, c.grad_clip_norm) == (0.2, 3e-4, 40.0)
  assert (c.num_epochs, c.dataset_repeat) == (24, 10)
  c = load('posec3d_hmdb51', 'split1')
  assert (c.optimizer.lr, c.schedule.milestones, c.num_epochs) == (0.01, [9, 11], 12)
  assert c.model.backbone.stage_blocks == (3, 4, 6)


def _clip(edition, label=0, seed=0):
  return synthetic.generate_clip(label, np.random.default_rng(seed), edition=edition, frame_dir='test_clip',
                                 min_frames=60, max_frames=80)


def _run_and_trace(cfg, pipeline_cfg, record):
  """Runs a pipeline on one record and traces the model on the packed output (batch of 1)."""
  out = build_pipeline(pipeline_cfg)(record, rng=np.random.default_rng(0))
  if 'inputs' in out:
    x = out['inputs'][None]
  else:  # PackPoseKeypoints: render as the train step would, shapes only
    from skeljax.data.heatmap_jax import generate_pose_target  # pylint: disable=import-outside-toplevel
    hm = cfg.device_heatmap
    x = jax.eval_shape(lambda kp, sc: generate_pose_target(
        kp, sc, height=hm.height, width=hm.width, sigma=hm.sigma, use_score=hm.use_score, with_kp=hm.with_kp,
        with_limb=hm.with_limb, skeletons=hm.skeletons, double=hm.double), out['keypoint'][None],
        out['keypoint_score'][None])
  scores = nnx.eval_shape(lambda: create_model(cfg.model, nnx.Rngs(0))(jnp.zeros(x.shape, jnp.float32)))
  return x.shape, scores.shape


@pytest.mark.parametrize('name,arg,edition', [
    ('stgcn_ntu60', 'synthetic', 'ntu25_3d'), ('stgcn_ntu60', 'synthetic,2d', 'coco17_2d'),
    ('stgcn_ntu60', '0x,2d', 'coco17_2d'), ('agcn_ntu60', '0x,bone', 'ntu25_3d'),
    ('agcn_ntu120', 'xset,bone,2d', 'coco17_2d'), ('stgcn_babel', 'synthetic,wfl', 'ntu25_3d'),
    ('posec3d_ntu60', 'synthetic,limb', 'coco17_2d'), ('posec3d_hmdb51', 'synthetic,host_heatmap', 'coco17_2d'),
])
def test_pipelines_feed_the_model(name, arg, edition):
  cfg = load(name, arg)
  record = _clip(edition)
  x_shape, scores_shape = _run_and_trace(cfg, cfg.train_pipeline, record)
  assert scores_shape == (1, x_shape[1], cfg.model.num_classes)
  x_shape, scores_shape = _run_and_trace(cfg, cfg.test_pipeline, record)
  num_clips = [op.get('num_clips', 1) for op in cfg.test_pipeline if op['type'] in ('UniformSampleFrames',
                                                                                   'PaddingWithLoop')]
  assert len(num_clips) == 1
  views = num_clips[0] * (2 if name.startswith('posec3d') else 1)
  assert x_shape[1] == views and scores_shape == (1, views, cfg.model.num_classes)


@pytest.mark.parametrize('name,arg', CASES)
def test_dataset_exists_in_builders(name, arg):
  """Each config names a TFDS builder config that data_builders defines, with the splits it reads."""
  import data_builders  # pylint: disable=import-outside-toplevel
  cfg = load(name, arg)
  dataset, config_name = cfg.dataset.name.split('/')
  configs = {c.name: c for c in data_builders.builder_class(dataset).BUILDER_CONFIGS}
  assert config_name in configs, f'{cfg.dataset.name}: builder configs are {sorted(configs)}'
  builder_cfg = configs[config_name]
  assert builder_cfg.num_classes == cfg.model.num_classes
  splits = {s.name for s in builder_cfg.splits} or {'train', 'val', 'test'}  # synthetic: generated splits
  assert {cfg.dataset.train_split, cfg.dataset.val_split, cfg.dataset.test_split} <= splits


# (config, variant, fixture set, model name in the fixtures, input file): the zoo config's model block must be
# MMAction2's model, so its checkpoints load (keys, shapes and the fixed graph buffers) and give its logits.
# AGCN models take 25-40 s to initialise on a loaded 2-core CPU, so their cases run with the slow tests.
ZOO_PARITY = [
    ('stgcn_ntu60', '0x,3d', 'parity_0x', 'stgcn0x_ntu3d', 'gcn0x_ntu3d_input.npz'),
    ('stgcn_ntu60', '0x,2d', 'parity_0x', 'stgcn0x_coco', 'gcn0x_coco_input.npz'),
    pytest.param('agcn_ntu60', '0x,joint', 'parity_0x', 'agcn0x_ntu3d', 'gcn0x_ntu3d_input.npz',
                 marks=pytest.mark.slow),
    pytest.param('agcn_ntu60', 'xsub,joint,3d', 'parity_1x', 'agcn', 'agcn_input.npz', marks=pytest.mark.slow),
]


def _zoo_model_with_fixture_weights(request, name, arg, fixtures, model_name):
  from skeljax.checkpoint import gcn_import, torch_pickle  # pylint: disable=import-outside-toplevel
  fx = request.getfixturevalue(fixtures)
  cfg = load(name, arg)
  model = nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(0)))()
  state_dict = torch_pickle.load_state_dict(fx.path(f'{model_name}_state_dict.pth'))
  gcn_import.import_mmaction_gcn(model, state_dict, cfg.model.edition, source=model_name)
  return fx, cfg, model


@pytest.mark.parametrize('name,arg,fixtures,model_name,input_file', ZOO_PARITY)
def test_zoo_config_loads_parity_checkpoint(request, name, arg, fixtures, model_name, input_file):
  """Keys, shapes and graph buffers of MMAction2's checkpoint fit; parameter count = MMAction2's."""
  fx, _, model = _zoo_model_with_fixture_weights(request, name, arg, fixtures, model_name)
  assert count_params(model) == fx.json('manifest.json')['models'][model_name]['params']['total_params']


@pytest.mark.slow
@pytest.mark.parametrize('name,arg,fixtures,model_name,input_file', ZOO_PARITY)
def test_zoo_config_logits_parity(request, name, arg, fixtures, model_name, input_file):
  fx, _, model = _zoo_model_with_fixture_weights(request, name, arg, fixtures, model_name)
  x = fx.require(fx.npz(input_file), 'x')
  if fixtures == 'parity_0x':  # 0.x NCTVM (N, C, T, V, M) -> skeljax (N, clips, M, T, V, C)
    x = x.transpose(0, 4, 2, 3, 1)[:, None]
  expected = fx.require(fx.npz(f'{model_name}_logits.npz'), 'logits')
  model.eval()
  logits = np.asarray(nnx.jit(lambda m, v: m(v))(model, x))[:, 0]
  assert np.max(np.abs(logits - expected)) <= 1e-4 * np.max(np.abs(expected))


@pytest.mark.slow
def test_posec3d_config_trains_one_step():
  """The PoseC3D synthetic config through the engine: host pipeline -> device heatmaps -> one SGD step."""
  from skeljax import sharding, train  # pylint: disable=import-outside-toplevel
  cfg = load('posec3d_ntu60', 'synthetic,limb')
  pipeline = build_pipeline(cfg.train_pipeline)
  samples = [pipeline(_clip('coco17_2d', label=i, seed=i), rng=np.random.default_rng(i)) for i in range(2)]
  batch = {k: np.stack([s[k] for s in samples]) for k in samples[0]}
  assert batch['keypoint'].shape == (2, 1, 2, 8, 17, 2)
  mesh = sharding.make_mesh(1)
  step_cfg = train.make_step_config(cfg, steps_per_epoch=10)
  state = train.create_train_state(cfg.model, step_cfg.tx, cfg.seed, mesh)
  state, step_metrics = train.jit_train_step(step_cfg, mesh, state)(state, sharding.shard_batch(batch, mesh))
  assert int(state.step) == 1 and np.isfinite(float(step_metrics['loss']))
