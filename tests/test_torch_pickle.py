"""The .pth reader: real MMAction2 checkpoints, hand-built mmengine-style ones in both formats, no code execution.

Without PyTorch, checkpoints are built here the way ``torch.save`` writes them: pickle protocol 2 whose
tensors reduce to ``torch._utils._rebuild_tensor_v2(storage, offset, size, stride, ...)`` and whose storages
are persistent ids ``('storage', torch.<Type>Storage, key, location, numel[, view])`` with the bytes kept in
``<name>/data/<key>`` (zip) or after the pickle (legacy). The few torch / mmengine names the pickler must
resolve live in stand-in modules registered in ``sys.modules`` for one test only.
"""

import collections
import io
import logging
import pickle
import struct
import sys
import zipfile

import numpy as np
import pytest

from conftest import install_fake_modules
from skeljax.checkpoint import torch_pickle

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
STORAGE_TYPES = {np.dtype(np.float32): 'FloatStorage', np.dtype(np.float16): 'HalfStorage',
                 np.dtype(np.int64): 'LongStorage', np.dtype(np.uint16): 'BFloat16Storage'}


def _rebuild_tensor_v2(*args):
  raise AssertionError('only pickled by reference, never called')


class HistoryBuffer:
  """What mmengine's HistoryBuffer pickles as: NEWOBJ of the class, then BUILD with its ``__dict__``."""

  def __init__(self, log, count, max_length=1000000):
    self._log_history = np.asarray(log, np.float64)
    self._count_history = np.asarray(count, np.int64)
    self.max_length = max_length


class Storage:
  """A torch storage: a flat array saved out of band (``bf16`` storages hold the raw uint16 halves)."""

  def __init__(self, array):
    self.array = np.ascontiguousarray(array).ravel()

  @property
  def torch_type(self):
    return getattr(sys.modules['torch'], STORAGE_TYPES[self.array.dtype])


class Tensor:
  """A view of a storage as torch pickles it; offset and strides in elements."""

  def __init__(self, storage, shape, stride, offset=0):
    self.storage, self.shape, self.stride, self.offset = storage, tuple(shape), tuple(stride), offset

  def __reduce_ex__(self, protocol):
    return (_rebuild_tensor_v2,
            (self.storage, self.offset, self.shape, self.stride, False, collections.OrderedDict()))


@pytest.fixture
def fake_torch(monkeypatch):
  """Registers the torch / mmengine names the pickler resolves while writing (the reader imports none)."""
  modules = {
      'torch': {name: type(name, (), {'__module__': 'torch'}) for name in STORAGE_TYPES.values()},
      'torch._utils': {'_rebuild_tensor_v2': _rebuild_tensor_v2},
      'mmengine': {}, 'mmengine.logging': {}, 'mmengine.logging.history_buffer': {'HistoryBuffer': HistoryBuffer},
  }
  install_fake_modules(monkeypatch, modules, {_rebuild_tensor_v2: 'torch._utils',
                                              HistoryBuffer: 'mmengine.logging.history_buffer'})


class _TorchPickler(pickle.Pickler):
  """torch.save's pickler: storages become persistent ids (legacy ones carry a sixth field, the view)."""

  def __init__(self, f, legacy):
    super().__init__(f, protocol=2)
    self.legacy, self.storages = legacy, {}

  def persistent_id(self, obj):
    if not isinstance(obj, Storage):
      return None
    key = next((k for k, s in self.storages.items() if s is obj), None)
    if key is None:
      key = str(len(self.storages) + (94000000 if self.legacy else 0))  # legacy keys are C pointers
      self.storages[key] = obj
    pid = ('storage', obj.torch_type, key, 'cpu', obj.array.size)
    return pid + (None,) if self.legacy else pid


def save_zip(path, obj):
  buf = io.BytesIO()
  pickler = _TorchPickler(buf, legacy=False)
  pickler.dump(obj)
  with zipfile.ZipFile(path, 'w') as archive:
    archive.writestr('ckpt/data.pkl', buf.getvalue())
    archive.writestr('ckpt/byteorder', 'little')
    for key, storage in pickler.storages.items():
      archive.writestr(f'ckpt/data/{key}', storage.array.tobytes())
    archive.writestr('ckpt/version', '3\n')


def legacy_bytes(obj, pickled=None):
  """``torch.save(obj, f, _use_new_zipfile_serialization=False)``; ``pickled`` replaces the object pickle."""
  buf = io.BytesIO()
  sys_info = {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 8}}
  for header in (LEGACY_MAGIC, 1001, sys_info):
    pickle.dump(header, buf, protocol=2)
  pickler = _TorchPickler(buf, legacy=True)
  if pickled is None:
    pickler.dump(obj)
  else:
    buf.write(pickled)
  keys = sorted(pickler.storages)
  pickle.dump(keys, buf, protocol=2)
  for key in keys:
    array = pickler.storages[key].array
    buf.write(struct.pack('<q', array.size) + array.tobytes())
  return buf.getvalue()


def save(fmt, path, obj):
  if fmt == 'zip':
    save_zip(path, obj)
  else:
    path.write_bytes(legacy_bytes(obj))
  return path


def _bf16_bits(values):
  return (np.asarray(values, np.float32).view(np.uint32) >> 16).astype(np.uint16)


def _mmengine_checkpoint():
  """An MMAction2 1.x (mmengine) checkpoint in miniature, and the state dict arrays it must yield."""
  weight = np.arange(24, dtype=np.float32).reshape(4, 6) * 0.5 - 3
  w_storage = Storage(weight)
  bias = Storage(np.array([1.5, -2.25, 3.0, 0.125, 9.0], np.float32))
  state_dict = collections.OrderedDict([
      ('backbone.conv.weight', Tensor(w_storage, (4, 6), (6, 1))),
      ('backbone.conv.weight_t', Tensor(w_storage, (6, 4), (1, 6))),  # a transposed view of the same storage
      ('backbone.conv.bias', Tensor(bias, (4,), (1,), offset=1)),
      ('backbone.bn.num_batches_tracked', Tensor(Storage(np.array([7], np.int64)), (), ())),
      ('cls_head.half', Tensor(Storage(np.array([0.5, 1, -2], np.float16)), (3,), (1,))),
      ('cls_head.bf16', Tensor(Storage(_bf16_bits([1.0, -2.5, 3.140625])), (1, 3), (3, 1))),
  ])
  state_dict._metadata = collections.OrderedDict([('', {'version': 1})])  # as nn.Module.state_dict() sets
  expected = {
      'backbone.conv.weight': weight, 'backbone.conv.weight_t': weight.T,
      'backbone.conv.bias': np.array([-2.25, 3.0, 0.125, 9.0], np.float32),
      'backbone.bn.num_batches_tracked': np.array(7, np.int64),
      'cls_head.half': np.array([0.5, 1, -2], np.float16),
      'cls_head.bf16': np.array([[1.0, -2.5, 3.140625]], np.float32),
  }
  checkpoint = {
      'meta': {'mmengine_version': '0.10.3', 'epoch': 3, 'iter': 120, 'seed': 0,
               'dataset_meta': {'classes': ('drink', 'eat')}},
      'state_dict': state_dict,
      'message_hub': {
          'log_scalars': collections.OrderedDict([('train/loss', HistoryBuffer([0.5, 0.25], [1, 1]))]),
          'runtime_info': {'epoch': 3, 'best_score': np.float64(0.875), 'visited': {'a', 'b'}, 'raw': b'\x00\xff'},
          'resumed_keys': {'epoch': True},
      },
      'optimizer': {'state': {0: {'momentum_buffer': Tensor(Storage(weight * 2), (4, 6), (6, 1))}},
                    'param_groups': [{'lr': 0.1, 'momentum': 0.9, 'params': [0]}]},
      'defaults': collections.defaultdict(list, {'stages': [1, 2]}),
  }
  return checkpoint, expected


def test_parity_reads_mmaction_state_dicts(parity_1x, parity_0x):
  sd = torch_pickle.load_state_dict(parity_1x.path('stgcn_state_dict.pth'))
  assert sd['backbone.data_bn.weight'].shape == (75,) and sd['backbone.data_bn.weight'].dtype == np.float32
  assert sd['backbone.gcn.0.gcn.conv.weight'].shape == (192, 3, 1, 1)
  assert sd['backbone.data_bn.num_batches_tracked'].dtype == np.int64
  ckpt = torch_pickle.load_pth(parity_0x.path('agcn0x_ntu3d_state_dict.pth'))
  assert ckpt['meta']['mmaction2_version'] == '0.24.1'
  assert ckpt['state_dict']['backbone.A'].shape == (3, 25, 25)


@pytest.mark.parametrize('fmt', ['zip', 'legacy'])
def test_reads_mmengine_checkpoint(tmp_path, fake_torch, fmt, caplog):
  checkpoint, expected = _mmengine_checkpoint()
  checkpoint['message_hub']['runtime_info']['hook'] = HistoryBuffer([1.0], [1])  # the same global again
  path = save(fmt, tmp_path / 'epoch_3.pth', checkpoint)

  with caplog.at_level(logging.WARNING):
    state_dict = torch_pickle.load_state_dict(path)
  # The message hub's unknown global stays inert; one warning lists it, once.
  (warning,) = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
  assert warning == (f'{path}: 1 unknown global(s) outside the state_dict kept as inert stand-ins (never '
                     'imported or called): mmengine.logging.history_buffer.HistoryBuffer')
  assert list(state_dict) == list(expected)
  for key, want in expected.items():
    assert state_dict[key].dtype == want.dtype, key
    np.testing.assert_array_equal(state_dict[key], want, err_msg=key)

  ckpt = torch_pickle.load_pth(path)
  assert ckpt['meta'] == checkpoint['meta']
  buffer = ckpt['message_hub']['log_scalars']['train/loss']
  assert isinstance(buffer, torch_pickle.OpaqueObject) and isinstance(type(buffer), type)
  assert buffer.name == 'mmengine.logging.history_buffer.HistoryBuffer'
  np.testing.assert_array_equal(buffer.state['_log_history'], [0.5, 0.25])
  assert buffer.state['_count_history'].dtype == np.int64 and buffer.state['max_length'] == 1000000
  info = ckpt['message_hub']['runtime_info']
  assert type(info['best_score']) is np.float64 and info['best_score'] == 0.875
  assert info['visited'] == {'a', 'b'} and info['raw'] == b'\x00\xff'
  assert type(ckpt['defaults']) is dict and ckpt['defaults'] == {'stages': [1, 2]}
  np.testing.assert_array_equal(ckpt['optimizer']['state'][0]['momentum_buffer'], expected['backbone.conv.weight'] * 2)
  assert ckpt['optimizer']['param_groups'] == [{'lr': 0.1, 'momentum': 0.9, 'params': [0]}]
  assert ckpt['state_dict']._metadata == {'': {'version': 1}}


def test_stand_ins_record_without_running(tmp_path):
  # NEWOBJ (a type is required), BUILD via __setstate__, SETITEMS and APPENDS on an unknown class.
  raw = (b'\x80\x02cmmengine.x\nThing\nK\x01\x85\x81'  # Thing.__new__(Thing, 1)
         b'}X\x01\x00\x00\x00aK\x02sb'              # BUILD {'a': 2}
         b'(X\x01\x00\x00\x00kK\x03u'               # SETITEMS k=3
         b'(K\x04K\x05e.')                          # APPENDS 4, 5
  thing = torch_pickle.load_pickle(io.BytesIO(raw))
  assert thing.name == 'mmengine.x.Thing' and thing.args == (1,) and thing.state == {'a': 2}
  assert thing.dictitems == {'k': 3} and thing.listitems == [4, 5]


def _attacks(marker):
  """Pickles that would touch ``marker`` if any global they name were called."""
  m = str(marker).encode()
  args = pickle.dumps((['touch', str(marker)],), protocol=2)[2:-1]  # the args tuple, without PROTO / STOP
  return {
      'os.system': b"cos\nsystem\n(S'touch " + m + b"'\ntR.",
      'posix.system (INST)': b"(S'touch " + m + b"'\niposix\nsystem\n.",
      'builtins.eval': b"cbuiltins\neval\n(S'open(\"" + m + b"\", \"w\")'\ntR.",
      'builtins.exec': b"c__builtin__\nexec\n(S'open(\"" + m + b"\", \"w\")'\ntR.",
      'subprocess.call': b'\x80\x02csubprocess\ncall\n' + args + b'R.',
      'subprocess.Popen (NEWOBJ)': b'\x80\x02csubprocess\nPopen\n' + args + b'\x81.',
  }


@pytest.mark.parametrize('fmt', ['zip', 'legacy', 'plain'])
def test_malicious_pickles_never_run(tmp_path, fmt):
  marker = tmp_path / 'pwned'
  for name, payload in _attacks(marker).items():
    if fmt == 'plain':
      obj = torch_pickle.load_pickle(io.BytesIO(payload))
    else:
      path = tmp_path / 'evil.pth'
      if fmt == 'zip':
        with zipfile.ZipFile(path, 'w') as archive:
          archive.writestr('evil/data.pkl', payload)
      else:
        path.write_bytes(legacy_bytes(None, pickled=payload))
      obj = torch_pickle.load_pth(path)
      with pytest.raises(ValueError, match='expected a state dict'):
        torch_pickle.load_state_dict(path)
    assert isinstance(obj, torch_pickle.OpaqueObject), name
    assert not marker.exists(), name
    with pytest.raises(pickle.UnpicklingError, match='not allowed'):
      torch_pickle.load_pickle(io.BytesIO(payload), strict=True)


def test_malicious_legacy_header_and_build_are_refused(tmp_path):
  marker = tmp_path / 'pwned'
  evil = tmp_path / 'evil.pth'
  evil.write_bytes(_attacks(marker)['os.system'])  # in place of the magic number, read before anything else
  with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
    torch_pickle.load_pth(evil)
  # BUILD with (None, {'fn': os.system}) would setattr on one of the reader's own functions.
  rewrite = b'\x80\x02c_codecs\nencode\nN}X\x02\x00\x00\x00fncos\nsystem\ns\x86b.'
  with pytest.raises(pickle.UnpicklingError, match='refusing to set state'):
    torch_pickle.load_pickle(io.BytesIO(rewrite))
  assert not marker.exists()


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
  assert opaque.args == ('pwned',)
  with pytest.raises(ValueError, match=r"evil\.pth: state_dict entry 'x' is an instance of the unknown global "
                                       r"builtins\.print \(kept inert, never imported or called\), not a tensor"):
    torch_pickle.load_state_dict(archive)


@pytest.mark.parametrize('fmt', ['zip', 'legacy'])
def test_state_dict_entries_must_be_tensors(tmp_path, fake_torch, fmt):
  checkpoint, _ = _mmengine_checkpoint()
  checkpoint['state_dict']['backbone.conv.bias'] = HistoryBuffer([0.5], [1])  # an inert stand-in in its place
  with pytest.raises(ValueError, match=r"x\.pth: state_dict entry 'backbone\.conv\.bias' is an instance of the "
                                       r"unknown global mmengine\.logging\.history_buffer\.HistoryBuffer"):
    torch_pickle.load_state_dict(save(fmt, tmp_path / 'x.pth', checkpoint))
  checkpoint['state_dict']['backbone.conv.bias'] = {'nested': 1.0}
  with pytest.raises(ValueError, match=r"state_dict entry 'backbone\.conv\.bias' is a dict, not a tensor"):
    torch_pickle.load_state_dict(save(fmt, tmp_path / 'x.pth', checkpoint))


@pytest.mark.parametrize('fmt', ['zip', 'legacy'])
def test_tensor_past_its_storage_is_refused(tmp_path, fake_torch, fmt):
  # as_strided does not check bounds; the reader must, or a crafted stride reads foreign memory.
  path = save(fmt, tmp_path / 'x.pth', {'w': Tensor(Storage(np.zeros(4, np.float32)), (3,), (2,))})
  with pytest.raises(ValueError, match='reaches element 4 of a 4-element storage'):
    torch_pickle.load_pth(path)


def test_not_a_checkpoint(tmp_path):
  bogus = tmp_path / 'x.pth'
  bogus.write_bytes(pickle.dumps(123))
  with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
    torch_pickle.load_pth(bogus)
  bogus.write_bytes(b'\x00garbage')
  with pytest.raises(ValueError, match='not a PyTorch checkpoint'):
    torch_pickle.load_pth(bogus)
  with pytest.raises(FileNotFoundError):
    torch_pickle.load_pth(tmp_path / 'missing.pth')
