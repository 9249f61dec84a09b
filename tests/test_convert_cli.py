"""``python -m skeljax.tools.convert_mmaction``: MMAction2 .pth -> skeljax orbax checkpoint, end to end."""

import json
import pathlib
import subprocess
import sys

import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
import pytest
from flax import nnx

from skeljax.checkpoint import convert, torch_pickle
from skeljax.checkpoint.mmaction import CheckpointMismatchError
from skeljax.models import create_model

REPO = pathlib.Path(__file__).resolve().parents[1]

CONFIG = '''
import ml_collections


def get_config(arg=None):
  config = ml_collections.ConfigDict()
  config.model = ml_collections.ConfigDict(dict(name='posec3d', num_classes=60, dropout=0.5))
  if arg == 'tiny':  # a model the checkpoint does not fit: one stage, 120 classes (cheap to build)
    config.model.num_classes = 120
    config.model.backbone = dict(num_stages=1, stage_blocks=(1,), out_indices=(0,), inflate=(0,),
                                 spatial_strides=(2,), temporal_strides=(1,), dilations=(1,))
  return config
'''


def _convert_cli(tmp_path, pth, workdir, config_arg=''):
  config = tmp_path / 'tiny_posec3d.py'
  config.write_text(CONFIG)
  return subprocess.run(
      [sys.executable, '-m', 'skeljax.tools.convert_mmaction', f'--config={config}{config_arg}',
       f'--checkpoint={pth}', f'--workdir={workdir}'],
      cwd=REPO, capture_output=True, text=True, timeout=300)


def test_cli_converts_posec3d_checkpoint_parity(tmp_path, parity_1x):
  """Convert the MMAction2 fixture, restore the ``model`` item into a fresh model: MMAction2's logits."""
  pth = parity_1x.path('posec3d_state_dict.pth')
  workdir = tmp_path / 'wd'
  result = _convert_cli(tmp_path, pth, workdir)
  assert result.returncode == 0, result.stderr
  step_dir = workdir / 'checkpoints' / '0'
  assert (step_dir / 'model').is_dir()
  meta = json.loads((step_dir / 'meta' / 'metadata').read_text())
  assert meta['source'] == str(pth) and meta['edition'] == '1.x'
  assert meta['model'] == {'name': 'posec3d', 'num_classes': 60, 'dropout': 0.5}

  fresh = create_model(meta['model'], nnx.Rngs(7))
  target = jax.tree.map(ocp.utils.to_shape_dtype_struct, convert.model_state_dict(fresh))
  with ocp.CheckpointManager(workdir / 'checkpoints') as manager:
    restored = manager.restore(0, args=ocp.args.Composite(model=ocp.args.StandardRestore(target)))
  state = nnx.state(fresh)
  state.replace_by_pure_dict(restored.model)
  nnx.update(fresh, state)
  fresh.eval()

  # One fixture sample keeps this cheap; the full batch is checked in test_posec3d_parity.py.
  x = parity_1x.require(parity_1x.npz('posec3d_input.npz'), 'x', 'posec3d_input.npz')[:1]
  logits = nnx.jit(lambda m, x: m(x))(fresh, jnp.asarray(np.transpose(x, (0, 1, 3, 4, 5, 2))))
  ref = parity_1x.require(parity_1x.npz('posec3d_logits.npz'), 'logits', 'posec3d_logits.npz')[:1]
  assert np.abs(np.asarray(logits[:, 0]) - ref).max() <= 1e-4 * np.abs(ref).max()

  with pytest.raises(FileExistsError, match='already exists'):  # never overwrites an existing conversion
    convert.save_converted(fresh, workdir, meta)


def test_parity_cli_reports_mismatched_keys_and_fails(tmp_path, parity_1x):
  result = _convert_cli(tmp_path, parity_1x.path('posec3d_state_dict.pth'), tmp_path / 'wd', ':tiny')
  assert result.returncode == 1
  assert 'does not match the model' in result.stderr
  assert 'unknown keys (' in result.stderr and 'backbone.layer3.2.conv3.conv.weight' in result.stderr
  assert 'cls_head.fc_cls.weight: checkpoint shape (60, 512) -> (512, 60), model expects (128, 120)' in result.stderr
  assert not (tmp_path / 'wd' / 'checkpoints' / '0').exists()


def test_parity_convert_checkpoint_dispatches_gcn_families(parity_1x):
  """ST-GCN goes through the GCN importer: its tensors land in the model (checked on the head)."""
  model_cfg = {'name': 'stgcn', 'num_classes': 60, 'in_channels': 3, 'edition': '1.x',
               'graph_cfg': {'layout': 'nturgb+d', 'strategy': 'stgcn_spatial'}}
  pth = parity_1x.path('stgcn_state_dict.pth')
  model = convert.convert_checkpoint(model_cfg, pth)
  state_dict = torch_pickle.load_state_dict(pth)
  np.testing.assert_array_equal(np.asarray(model.cls_head.fc.kernel[...]), state_dict['cls_head.fc.weight'].T)
  # The same checkpoint read as the 0.x naming must fail loudly (different keys and graph).
  with pytest.raises(CheckpointMismatchError):
    convert.convert_checkpoint(model_cfg, pth, edition='0.x')


def test_parity_convert_checkpoint_rejects_bad_requests(tmp_path, parity_1x):
  with pytest.raises(ValueError, match='no MMAction2 checkpoint import'):
    convert.convert_checkpoint({'name': 'nope'}, parity_1x.path('posec3d_state_dict.pth'))
  with pytest.raises(ValueError, match='edition'):
    convert.convert_checkpoint({'name': 'posec3d', 'num_classes': 60}, parity_1x.path('posec3d_state_dict.pth'),
                               edition='2.x')
  with pytest.raises(FileNotFoundError):
    convert.convert_checkpoint({'name': 'posec3d', 'num_classes': 60}, tmp_path / 'missing.pth')
  # An ST-GCN checkpoint is not a PoseC3D one: every key is reported.
  with pytest.raises(CheckpointMismatchError, match='unknown keys') as error:
    convert.convert_checkpoint({'name': 'posec3d', 'num_classes': 60}, parity_1x.path('stgcn_state_dict.pth'))
  assert 'missing keys' in str(error.value) and 'backbone.layer1.0.conv1.conv.weight' in str(error.value)
