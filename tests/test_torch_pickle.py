"""The .pth reader: real MMAction2 checkpoints, no PyTorch, no code execution."""

import io
import pickle
import zipfile

import numpy as np
import pytest

from skeljax.checkpoint import torch_pickle


def test_reads_mmaction_state_dicts(parity_1x, parity_0x):
  sd = torch_pickle.load_state_dict(parity_1x.path('stgcn_state_dict.pth'))
  assert sd['backbone.data_bn.weight'].shape == (75,) and sd['backbone.data_bn.weight'].dtype == np.float32
  assert sd['backbone.gcn.0.gcn.conv.weight'].shape == (192, 3, 1, 1)
  assert sd['backbone.data_bn.num_batches_tracked'].dtype == np.int64
  ckpt = torch_pickle.load_pth(parity_0x.path('agcn0x_ntu3d_state_dict.pth'))
  assert ckpt['meta']['mmaction2_version'] == '0.24.1'
  assert ckpt['state_dict']['backbone.A'].shape == (3, 25, 25)


def test_untrusted_globals_never_run(tmp_path):
  class Evil:
    def __reduce__(self):
      return (print, ('pwned',))

  archive = tmp_path / 'evil.pth'
  with zipfile.ZipFile(archive, 'w') as z:
    z.writestr('evil/data.pkl', pickle.dumps({'state_dict': {'x': Evil()}}, protocol=2))
  obj = torch_pickle.load_pth(archive)
  opaque = obj['state_dict']['x']
  assert isinstance(opaque, torch_pickle.OpaqueObject) and opaque.name.endswith('.print')
  with pytest.raises(ValueError, match='not tensors'):
    torch_pickle.load_state_dict(archive)


def test_not_a_checkpoint(tmp_path):
  bogus = tmp_path / 'x.pth'
  bogus.write_bytes(pickle.dumps(123))
  with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
    torch_pickle.load_pth(bogus)
  with pytest.raises(FileNotFoundError):
    torch_pickle.load_pth(tmp_path / 'missing.pth')
