"""Export: the deserialized ``jax.export`` artefact equals the model's eval output, on any batch size.

The parity test exports ST-GCN carrying MMAction2 1.2.0's fixture weights and checks the artefact against
MMAction2's own logits, so the exported function is proven end to end, not just against our model.
"""

import jax
import numpy as np
import pytest
from flax import nnx

from configs import posec3d_ntu60, stgcn_babel, stgcn_ntu60
from skeljax import export
from skeljax.checkpoint import convert, gcn_import, torch_pickle
from skeljax.models import create_model


def _saved_model(cfg, workdir, seed=0):
  """A randomly initialised model saved as a checkpoint; returns its jitted eval forward."""
  # Jitted init and forward: eager NNX dispatches op by op, many times slower on a CPU.
  model = nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(seed)))()
  convert.save_converted(model, workdir, {'source': 'test'})
  model.eval()
  forward = nnx.jit(lambda m, x: m(x))
  return lambda x: np.asarray(forward(model, x))


def _x(shape, seed=0):
  return np.random.default_rng(seed).normal(size=shape).astype(np.float32)


def test_export_roundtrip_gcn(tmp_path):
  cfg = stgcn_ntu60.get_config('synthetic')
  cfg.label_names = 'ntu60'
  cfg.model.num_classes = cfg.dataset.num_classes = 60
  model = _saved_model(cfg, tmp_path)
  out = export.export_model(cfg, tmp_path)
  assert out == tmp_path / 'export'
  loaded = export.ExportedModel(tmp_path)  # a workdir resolves to its export/ folder
  assert loaded.labels[0] == 'drink water' and len(loaded.labels) == 60
  assert loaded.meta['input_shape'] == ['b', 'clips', '2', '16', '25', '3']
  assert set(loaded.meta['platforms']) == {'cpu', 'cuda'}
  assert [op['type'] for op in loaded.config.test_pipeline] == [op['type'] for op in cfg.test_pipeline]
  for batch, clips in ((1, 1), (3, 2)):
    x = _x((batch, clips, 2, 16, 25, 3), seed=batch)
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5, rtol=0)
  with pytest.raises(ValueError, match='does not fit'):
    loaded(_x((1, 1, 2, 15, 25, 3)))


def test_export_symbolic_frames(tmp_path):
  """BABEL keeps every frame, so T is symbolic too; the artefact takes any clip length."""
  cfg = stgcn_babel.get_config('babel60')
  model = _saved_model(cfg, tmp_path, seed=1)
  loaded = export.ExportedModel(export.export_model(cfg, tmp_path, out_dir=tmp_path / 'artefact'))
  assert loaded.meta['input_shape'] == ['b', 'clips', '1', 't', '25', '3']
  x = _x((2, 1, 1, 40, 25, 3))
  np.testing.assert_allclose(loaded(x), model(x), atol=1e-5, rtol=0)


@pytest.mark.slow
def test_export_roundtrip_posec3d(tmp_path):
  cfg = posec3d_ntu60.get_config('synthetic')
  model = _saved_model(cfg, tmp_path)
  loaded = export.ExportedModel(export.export_model(cfg, tmp_path))
  assert loaded.meta['input_shape'] == ['b', 'clips', '8', '64', '64', '17']
  for batch in (1, 3):
    x = np.abs(_x((batch, 1, 8, 64, 64, 17), seed=batch))
    np.testing.assert_allclose(loaded(x), model(x), atol=1e-5, rtol=0)


def test_export_parity_stgcn_mmaction(tmp_path, parity_1x):
  """The artefact of ST-GCN with MMAction2's weights reproduces MMAction2's eval logits."""
  cfg = stgcn_ntu60.get_config('xsub,joint,3d')
  model = create_model(cfg.model, nnx.Rngs(0))
  state_dict = torch_pickle.load_state_dict(parity_1x.path('stgcn_state_dict.pth'))
  gcn_import.import_mmaction_gcn(model, state_dict, '1.x')
  convert.save_converted(model, tmp_path, {'source': 'parity'})
  loaded = export.ExportedModel(export.export_model(cfg, tmp_path))
  x = parity_1x.require(parity_1x.npz('stgcn_input.npz'), 'x')  # (4, 1, 2, 100, 25, 3), channel-last
  expected = parity_1x.require(parity_1x.npz('stgcn_logits.npz'), 'logits')
  scores = loaded(x)[:, 0]
  assert np.max(np.abs(scores - expected)) <= 1e-4 * np.max(np.abs(expected))


def test_export_needs_a_checkpoint(tmp_path):
  cfg = stgcn_ntu60.get_config('synthetic')
  with pytest.raises(FileNotFoundError, match='checkpoint'):
    export.export_model(cfg, tmp_path / 'empty')
  with pytest.raises(FileNotFoundError, match='not a skeljax export folder'):
    export.ExportedModel(tmp_path)


def test_input_spec_of_zoo_configs():
  """Input shapes follow from the test pipelines: 64x64 PoseC3D test crops, 56x56 for UCF/HMDB, T=100."""
  from configs import posec3d_ucf101  # pylint: disable=import-outside-toplevel
  assert export.input_spec(stgcn_ntu60.get_config('xsub,joint,2d')) == ('b', 'clips', '2', '100', '17', '3')
  assert export.input_spec(posec3d_ntu60.get_config()) == ('b', 'clips', '48', '64', '64', '17')
  assert export.input_spec(posec3d_ucf101.get_config()) == ('b', 'clips', '48', '56', '56', '17')
  assert jax.export.symbolic_shape(', '.join(export.input_spec(stgcn_ntu60.get_config('0x,2d'))))
