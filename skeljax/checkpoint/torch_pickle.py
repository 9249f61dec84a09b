"""Reads PyTorch ``.pth`` checkpoints into numpy without PyTorch and without running arbitrary pickle code.

Hand-written because the only library that reads this format is PyTorch itself, which skeljax does not
depend on at run time. ``torch.load`` is a pickle with tensors stored out of band; we unpickle with an
allow-list: tensor/storage rebuild functions and plain containers become numpy arrays and Python objects,
any other global becomes an inert :class:`OpaqueObject` that records its name and never runs. Both the
zip format (torch >= 1.6) and the legacy sequential format are supported.
"""

from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any

import numpy as np

_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': None, 'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16,
    'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class OpaqueObject:
  """Stands in for a pickled object of a class we do not trust; keeps its name and arguments only."""

  def __init__(self, name: str, *args, **kwargs):
    self.name, self.args, self.kwargs, self.state = name, args, kwargs, None

  def __setstate__(self, state):
    self.state = state

  def __repr__(self):
    return f'OpaqueObject({self.name})'


class _StorageType:
  def __init__(self, name: str):
    if name not in _STORAGE_DTYPES:
      raise pickle.UnpicklingError(f'unsupported tensor storage type torch.{name}')
    self.name = name
    self.dtype = _STORAGE_DTYPES[name]


def _bf16_to_f32(raw: bytes) -> np.ndarray:
  as_u16 = np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16
  return as_u16.view(np.float32)


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  """Maps torch._utils._rebuild_tensor_v2 onto a strided numpy view (copied to be contiguous)."""
  flat, itemsize = storage
  if not size:
    return np.array(flat[storage_offset])
  view = np.lib.stride_tricks.as_strided(
      flat[storage_offset:], shape=tuple(size), strides=tuple(s * itemsize for s in stride))
  return np.array(view)


def _rebuild_parameter(data, requires_grad=None, backward_hooks=None, *unused):
  return data


_SAFE_GLOBALS = {
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('torch._utils', '_rebuild_parameter'): _rebuild_parameter,
    ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset, ('builtins', 'tuple'): tuple,
    ('builtins', 'list'): list, ('builtins', 'dict'): dict, ('builtins', 'slice'): slice,
}


class _Unpickler(pickle.Unpickler):

  def __init__(self, file, load_storage, rebuild_tensor=_rebuild_tensor):
    super().__init__(file)
    self._load_storage = load_storage
    self._rebuild_tensor = rebuild_tensor

  def find_class(self, module, name):
    if module == 'torch._utils' and name in ('_rebuild_tensor_v2', '_rebuild_tensor'):
      return self._rebuild_tensor
    if (module, name) in _SAFE_GLOBALS:
      return _SAFE_GLOBALS[(module, name)]
    if module == 'torch' and name.endswith('Storage'):
      return _StorageType(name)
    return lambda *args, **kwargs: OpaqueObject(f'{module}.{name}', *args, **kwargs)

  def persistent_load(self, pid):
    if not (isinstance(pid, tuple) and pid and pid[0] == 'storage'):
      raise pickle.UnpicklingError(f'unexpected persistent id {pid!r}')
    storage_type, key = pid[1], str(pid[2])
    if not isinstance(storage_type, _StorageType):
      raise pickle.UnpicklingError(f'unexpected storage type {storage_type!r}')
    return self._load_storage(storage_type, key)


def _as_array(raw: bytes, storage_type: _StorageType) -> tuple[np.ndarray, int]:
  if storage_type.dtype is None:
    arr = _bf16_to_f32(raw)
    return arr, arr.itemsize  # bf16 strides are rescaled below; see _load_zip
  dtype = np.dtype(storage_type.dtype).newbyteorder('<')
  arr = np.frombuffer(raw, dtype=dtype)
  return arr, arr.itemsize


def _load_zip(path: str) -> Any:
  with zipfile.ZipFile(path) as archive:
    pkl_names = [n for n in archive.namelist() if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pkl_names) != 1:
      raise ValueError(f'{path}: not a PyTorch checkpoint (found {len(pkl_names)} data.pkl entries)')
    prefix = pkl_names[0][:-len('data.pkl')]
    byteorder = prefix + 'byteorder'
    if byteorder in archive.namelist() and archive.read(byteorder).strip() != b'little':
      raise ValueError(f'{path}: big-endian checkpoints are not supported')
    cache: dict[str, tuple[np.ndarray, int]] = {}

    def load_storage(storage_type, key):
      if key not in cache:
        cache[key] = _as_array(archive.read(f'{prefix}data/{key}'), storage_type)
      return cache[key]

    return _Unpickler(io.BytesIO(archive.read(pkl_names[0])), load_storage).load()


def _load_legacy(path: str) -> Any:
  with open(path, 'rb') as f:
    magic = pickle.load(f)
    if magic != _LEGACY_MAGIC:
      raise ValueError(f'{path}: not a PyTorch checkpoint (bad magic number)')
    pickle.load(f)  # protocol version
    pickle.load(f)  # sys info
    pending: dict[str, tuple[_StorageType, list]] = {}

    def load_storage(storage_type, key):
      holder = pending.setdefault(key, (storage_type, []))
      return _LazyStorage(holder[1])

    # Legacy files store tensor bytes after the pickle, so tensors are rebuilt once those are read.
    result = _Unpickler(f, load_storage, rebuild_tensor=lambda *args: _LazyTensor(args)).load()
    keys = pickle.load(f)
    for key in keys:
      storage_type, holders = pending[key]
      (numel,) = struct.unpack('<q', f.read(8))
      itemsize = 2 if storage_type.dtype is None else np.dtype(storage_type.dtype).itemsize
      holders.append(_as_array(f.read(numel * itemsize), storage_type))
  return _resolve_lazy(result)


class _LazyStorage:
  def __init__(self, holder):
    self.holder = holder


class _LazyTensor:
  def __init__(self, args):
    self.args = args


def _resolve_lazy(obj):
  if isinstance(obj, _LazyTensor):
    storage, *rest = obj.args
    return _rebuild_tensor(storage.holder[0], *rest)
  if isinstance(obj, dict):
    out = type(obj)() if isinstance(obj, collections.OrderedDict) else {}
    for k, v in obj.items():
      out[k] = _resolve_lazy(v)
    return out
  if isinstance(obj, (list, tuple)):
    return type(obj)(_resolve_lazy(v) for v in obj)
  return obj


def load_pth(path: str | os.PathLike) -> Any:
  """Loads a ``torch.save`` file; tensors come back as numpy arrays (bfloat16 widened to float32)."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f'checkpoint not found: {path}')
  if zipfile.is_zipfile(path):
    return _load_zip(path)
  return _load_legacy(path)


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """The ``state_dict`` of a checkpoint (or the checkpoint itself if it is a bare state dict)."""
  obj = load_pth(path)
  if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
    obj = obj['state_dict']
  if not isinstance(obj, dict):
    raise ValueError(f'{os.fspath(path)}: expected a state dict, got {type(obj).__name__}')
  bad = [k for k, v in obj.items() if not isinstance(v, np.ndarray)]
  if bad:
    raise ValueError(f'{os.fspath(path)}: entries that are not tensors: {bad[:10]}')
  return dict(obj)
