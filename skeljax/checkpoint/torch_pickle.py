"""Reads PyTorch ``.pth`` checkpoints into numpy without PyTorch and without running arbitrary pickle code.

Hand-written because the only library that reads this format is PyTorch itself, which skeljax does not
depend on at run time. ``torch.save`` writes a pickle whose tensors point at storages kept out of band; we
unpickle with an allow-list. Tensor/storage rebuild functions, plain containers, ``collections.defaultdict``
(read as a plain dict, its factory never called) and numpy arrays, dtypes and scalars (rebuilt by our own
checked functions) become numpy arrays and Python objects. Any other global becomes an inert stand-in class
(a subclass of :class:`OpaqueObject`, one per name) whose instances only record what the pickle hands them,
so mmengine checkpoints (``meta``, ``message_hub`` HistoryBuffers, ``optimizer``) load whole. Both the zip
format (torch >= 1.6) and the legacy sequential format are read; :func:`load_pickle` reads plain pickles
holding torch tensors pickled by value (``torch.storage._load_from_bytes``), e.g. MMAction2 ``--dump`` files.
"""

from __future__ import annotations

import collections
import io
import logging
import os
import pickle
import struct
import zipfile
from typing import Any, BinaryIO

import numpy as np

_STORAGE_DTYPES = {
    'FloatStorage': np.float32, 'DoubleStorage': np.float64, 'HalfStorage': np.float16,
    'BFloat16Storage': None, 'LongStorage': np.int64, 'IntStorage': np.int32, 'ShortStorage': np.int16,
    'CharStorage': np.int8, 'ByteStorage': np.uint8, 'BoolStorage': np.bool_,
    'ComplexFloatStorage': np.complex64, 'ComplexDoubleStorage': np.complex128, 'UntypedStorage': np.uint8,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_ZIP_MAGIC = b'PK\x03\x04'


class OpaqueObject:
  """Base of the stand-ins for globals we do not trust; instances record what the pickle gave them, nothing more.

  ``args``/``kwargs``: the constructor (REDUCE / NEWOBJ) arguments; ``state``: the ``__setstate__`` (BUILD)
  value, e.g. an mmengine HistoryBuffer's ``__dict__``; ``dictitems``/``listitems``: what the pickle stored with
  item assignment or append / extend / add.
  """

  name = 'OpaqueObject'

  def __new__(cls, *args, **kwargs):
    obj = super().__new__(cls)
    obj.args, obj.kwargs, obj.state, obj.dictitems, obj.listitems = args, kwargs, None, {}, []
    return obj

  def __init__(self, *args, **kwargs):
    del args, kwargs  # recorded in __new__, which NEWOBJ calls without __init__

  def __setstate__(self, state):
    self.state = state

  def __setitem__(self, key, value):
    self.dictitems[key] = value

  def append(self, value):
    self.listitems.append(value)

  def extend(self, values):
    self.listitems.extend(values)

  def add(self, value):
    self.listitems.append(value)

  def __repr__(self):
    return f'OpaqueObject({self.name})'


def _opaque_class(qualified_name: str) -> type:
  # A real type, so NEWOBJ (``cls.__new__(cls)``) works; the name is data only and is never imported.
  return type(qualified_name, (OpaqueObject,), {'name': qualified_name, '__module__': __name__})


class _Sealed:
  """Internal loader objects: a pickle's BUILD must not be able to rewrite them."""

  __slots__ = ()

  def __setstate__(self, state):
    raise pickle.UnpicklingError(f'refusing to set state on {type(self).__name__}')


class _StorageType(_Sealed):
  __slots__ = ('name', 'dtype', 'itemsize')

  def __init__(self, name: str):
    if name not in _STORAGE_DTYPES:
      raise pickle.UnpicklingError(f'unsupported tensor storage type torch.{name}')
    self.name, self.dtype = name, _STORAGE_DTYPES[name]
    self.itemsize = 2 if self.dtype is None else np.dtype(self.dtype).itemsize


class _Storage(_Sealed):
  """A tensor storage: a flat little-endian numpy array (bfloat16 widened to float32); None while only scanning."""

  __slots__ = ('array',)

  def __init__(self, array: np.ndarray | None):
    self.array = array


class _NdarrayToken(_Sealed):
  """Stands for ``numpy.ndarray``, which a pickle may only pass to ``_reconstruct``, never call."""

  __slots__ = ()


_NDARRAY = _NdarrayToken()


def _as_array(raw: bytes, storage_type: _StorageType) -> np.ndarray:
  if storage_type.dtype is None:  # bfloat16 is the high half of a float32
    return (np.frombuffer(raw, dtype='<u2').astype(np.uint32) << 16).view(np.float32)
  return np.frombuffer(raw, dtype=np.dtype(storage_type.dtype).newbyteorder('<'))


def _rebuild_tensor(storage, storage_offset, size, stride, *unused):
  """Maps torch._utils._rebuild_tensor_v2 onto a bounds-checked strided copy of the storage."""
  if not isinstance(storage, _Storage):
    raise pickle.UnpicklingError(f'tensor rebuilt from a {type(storage).__name__}, not a storage')
  if storage.array is None:
    return None
  flat, size, stride = storage.array, tuple(size), tuple(stride)
  ints = (storage_offset, *size, *stride)
  if len(size) != len(stride) or not all(isinstance(v, int) and v >= 0 for v in ints):
    raise pickle.UnpicklingError(f'bad tensor geometry: offset {storage_offset}, size {size}, stride {stride}')
  if 0 in size:
    return np.zeros(size, flat.dtype)
  # as_strided does no bounds checking, so a crafted stride must not reach past the storage.
  last = storage_offset + sum((n - 1) * s for n, s in zip(size, stride))
  if last >= flat.size:
    raise pickle.UnpicklingError(f'tensor of size {size} reaches element {last} of a {flat.size}-element storage')
  view = np.lib.stride_tricks.as_strided(
      flat[storage_offset:], shape=size, strides=tuple(s * flat.itemsize for s in stride))
  return np.array(view)


def _rebuild_parameter(data, *unused):
  return data


def _rebuild_from_type(func, new_type, args, state=None):
  """torch._tensor._rebuild_from_type_v2 (tensor subclasses): the plain tensor; the subclass and state dropped."""
  del new_type, state
  if func is not _REBUILD_TENSOR and func is not _REBUILD_PARAMETER:
    raise pickle.UnpicklingError(f'_rebuild_from_type_v2 with an untrusted rebuild function {func!r}')
  return func(*args)


def _load_from_bytes(data):
  """torch.storage._load_from_bytes: a storage pickled by value holds a legacy ``torch.save`` of itself."""
  if not isinstance(data, (bytes, bytearray)):
    raise pickle.UnpicklingError(f'_load_from_bytes of a {type(data).__name__}')
  storage = _load_legacy(io.BytesIO(bytes(data)), 'embedded storage')
  if not isinstance(storage, _Storage):
    raise pickle.UnpicklingError(f'embedded torch.save bytes hold a {type(storage).__name__}, not a storage')
  return storage


def _np_reconstruct(subtype, shape, typecode):
  """numpy.core.multiarray._reconstruct, for plain ndarrays only; BUILD then fills it via ndarray.__setstate__."""
  del shape, typecode  # numpy's own __setstate__ sets (and checks) the real shape, dtype and data
  if subtype is not _NDARRAY:
    raise pickle.UnpicklingError(f'numpy _reconstruct of {subtype!r}: only plain ndarrays are read')
  return np.ndarray((0,), np.uint8)


def _np_dtype(spec, align=False, copy=False):
  if not isinstance(spec, str):
    raise pickle.UnpicklingError(f'numpy dtype from a {type(spec).__name__}, expected a type string')
  del copy  # always a fresh dtype: BUILD then runs dtype.__setstate__, which must not touch numpy's shared ones
  return np.dtype(spec, align=bool(align), copy=True)


def _np_scalar(dtype, data=None):
  if not isinstance(dtype, np.dtype):
    raise pickle.UnpicklingError(f'numpy scalar with dtype {dtype!r}')
  if dtype.hasobject:
    return data  # numpy pickles object scalars as the object itself
  if not isinstance(data, bytes) or len(data) != dtype.itemsize:
    raise pickle.UnpicklingError(f'numpy {dtype} scalar needs {dtype.itemsize} bytes')
  return np.frombuffer(data, dtype)[0].copy()


def _np_frombuffer(buffer, dtype, shape, order='C'):
  if not isinstance(buffer, (bytes, bytearray, pickle.PickleBuffer)):
    raise pickle.UnpicklingError(f'numpy _frombuffer of a {type(buffer).__name__}')
  if not isinstance(dtype, np.dtype) or dtype.hasobject:
    raise pickle.UnpicklingError(f'numpy _frombuffer with dtype {dtype!r}')
  return np.frombuffer(buffer, dtype).reshape(shape, order=order).copy()


def _codecs_encode(text, encoding='utf-8', errors='strict'):
  # Pickle protocol < 3 (torch.save's default) writes bytes as _codecs.encode(latin-1 text, 'latin1').
  if not isinstance(text, str) or encoding not in ('latin1', 'latin-1') or errors != 'strict':
    raise pickle.UnpicklingError(f'_codecs.encode({type(text).__name__}, {encoding!r}) is not pickled bytes')
  return text.encode('latin1')


def _empty_bytes(*args):
  # Protocol < 3 writes b'' as bytes(); anything else would be a call we do not need.
  if args:
    raise pickle.UnpicklingError('builtins.bytes called with arguments')
  return b''


def _defaultdict_as_dict(default_factory=None, *args):
  del default_factory  # never called: the factory is whatever the file says
  return dict(*args)


class _Safe(_Sealed):
  """One of our checked functions as the pickle sees it: callable, but sealed against BUILD's setattr."""

  __slots__ = ('fn',)

  def __init__(self, fn):
    self.fn = fn

  def __call__(self, *args):
    return self.fn(*args)

  def __repr__(self):
    return f'<safe {self.fn.__name__}>'


_REBUILD_TENSOR, _REBUILD_PARAMETER = _Safe(_rebuild_tensor), _Safe(_rebuild_parameter)
_SAFE_GLOBALS = {
    # Immutable builtin types: safe to call on any argument and a BUILD cannot alter them.
    ('collections', 'OrderedDict'): collections.OrderedDict,
    ('builtins', 'set'): set, ('builtins', 'frozenset'): frozenset, ('builtins', 'tuple'): tuple,
    ('builtins', 'list'): list, ('builtins', 'dict'): dict, ('builtins', 'slice'): slice,
    ('collections', 'defaultdict'): _Safe(_defaultdict_as_dict),
    ('builtins', 'bytes'): _Safe(_empty_bytes), ('_codecs', 'encode'): _Safe(_codecs_encode),
    ('torch._utils', '_rebuild_tensor_v2'): _REBUILD_TENSOR, ('torch._utils', '_rebuild_tensor'): _REBUILD_TENSOR,
    ('torch._utils', '_rebuild_parameter'): _REBUILD_PARAMETER,
    ('torch._utils', '_rebuild_parameter_with_state'): _REBUILD_PARAMETER,
    ('torch._tensor', '_rebuild_from_type_v2'): _Safe(_rebuild_from_type),
    ('torch._utils', '_rebuild_from_type_v2'): _Safe(_rebuild_from_type),
    ('torch.storage', '_load_from_bytes'): _Safe(_load_from_bytes),
    ('numpy', 'ndarray'): _NDARRAY, ('numpy', 'dtype'): _Safe(_np_dtype),
}
for _core in ('numpy.core', 'numpy._core'):  # numpy 1.x and 2.x spellings
  _SAFE_GLOBALS[(f'{_core}.multiarray', '_reconstruct')] = _Safe(_np_reconstruct)
  _SAFE_GLOBALS[(f'{_core}.multiarray', 'scalar')] = _Safe(_np_scalar)
  _SAFE_GLOBALS[(f'{_core}.numeric', '_frombuffer')] = _Safe(_np_frombuffer)


class _Unpickler(pickle.Unpickler):
  """Pickle reader whose globals are the allow-list above, stand-in classes, or (``strict``) an error."""

  def __init__(self, file, load_storage=None, strict=False):
    super().__init__(file)
    self._load_storage = load_storage
    self._strict = strict
    self._stand_ins: dict[tuple[str, str], type] = {}

  def find_class(self, module, name):
    module = 'builtins' if module == '__builtin__' else module  # Python 2 era pickles
    if (module, name) in _SAFE_GLOBALS:
      return _SAFE_GLOBALS[(module, name)]
    if module == 'torch' and isinstance(name, str) and name.endswith('Storage'):
      return _StorageType(name)
    if self._strict:
      raise pickle.UnpicklingError(f'holds a {module}.{name} object, which is not allowed here')
    if (module, name) not in self._stand_ins:
      self._stand_ins[(module, name)] = _opaque_class(f'{module}.{name}')
    return self._stand_ins[(module, name)]

  def persistent_load(self, pid):
    if self._load_storage is None:
      raise pickle.UnpicklingError('a plain pickle cannot refer to out-of-band storages')
    if not (isinstance(pid, tuple) and len(pid) in (5, 6) and pid[0] == 'storage'
            and isinstance(pid[1], _StorageType)):
      raise pickle.UnpicklingError(f'unexpected persistent id {repr(pid)[:200]}')
    view = pid[5] if len(pid) == 6 else None
    return self._load_storage(pid[1], str(pid[2]), view)


def _read_exact(f: BinaryIO, n: int) -> bytes:
  data = f.read(n)
  if len(data) != n:
    raise pickle.UnpicklingError(f'truncated: wanted {n} bytes, got {len(data)}')
  return data


def _load_zip(f: BinaryIO) -> Any:
  with zipfile.ZipFile(f) as archive:
    names = set(archive.namelist())
    pkl_names = [n for n in names if n.endswith('/data.pkl') or n == 'data.pkl']
    if len(pkl_names) != 1:
      raise pickle.UnpicklingError(f'not a PyTorch checkpoint (found {len(pkl_names)} data.pkl entries)')
    prefix = pkl_names[0][:-len('data.pkl')]
    if prefix + 'byteorder' in names and archive.read(prefix + 'byteorder').strip() != b'little':
      raise pickle.UnpicklingError('big-endian checkpoints are not supported')
    storages: dict[str, _Storage] = {}

    def load_storage(storage_type, key, view):
      if view is not None:
        raise pickle.UnpicklingError('storage views do not occur in the zip format')
      if key not in storages:
        if f'{prefix}data/{key}' not in names:
          raise pickle.UnpicklingError(f'storage {key!r} is missing from the archive')
        storages[key] = _Storage(_as_array(archive.read(f'{prefix}data/{key}'), storage_type))
      return storages[key]

    return _Unpickler(io.BytesIO(archive.read(pkl_names[0])), load_storage).load()


def _load_legacy(f: BinaryIO, source: str) -> Any:
  """The pre-1.6 format: magic, version and sys-info pickles, the object pickle, storage keys, then raw storages."""
  try:
    magic = _Unpickler(f, strict=True).load()
  except (pickle.UnpicklingError, EOFError, ValueError) as e:
    raise pickle.UnpicklingError(f'not a PyTorch checkpoint (no magic number: {e})') from None
  if magic != _LEGACY_MAGIC:
    raise pickle.UnpicklingError('not a PyTorch checkpoint (bad magic number)')
  _Unpickler(f, strict=True).load()  # protocol version
  sys_info = _Unpickler(f, strict=True).load()
  if isinstance(sys_info, dict) and not sys_info.get('little_endian', True):
    raise pickle.UnpicklingError(f'{source}: big-endian checkpoints are not supported')
  start = f.tell()

  # Storage bytes follow the object pickle, so a first pass only learns each storage's type; the second
  # pass, after the bytes are read, rebuilds tensors wherever they sit (inside stand-ins, sets, tuples...).
  types: dict[str, _StorageType] = {}

  def scan_storage(storage_type, key, view):
    types.setdefault(key, storage_type)
    return _Storage(None)

  _Unpickler(f, scan_storage).load()
  keys = _Unpickler(f, strict=True).load()
  arrays: dict[str, np.ndarray] = {}
  for key in map(str, keys):
    if key not in types:
      raise pickle.UnpicklingError(f'storage {key!r} is listed but never used')
    (numel,) = struct.unpack('<q', _read_exact(f, 8))
    if numel < 0:
      raise pickle.UnpicklingError(f'storage {key!r} has {numel} elements')
    arrays[key] = _as_array(_read_exact(f, numel * types[key].itemsize), types[key])

  def load_storage(storage_type, key, view):
    if key not in arrays:
      raise pickle.UnpicklingError(f'storage {key!r} has no data in the file')
    if view is None:
      return _Storage(arrays[key])
    _, offset, size = view  # pre-1.0 storage views: a slice of the root storage, in elements
    return _Storage(arrays[key][offset:offset + size])

  f.seek(start)
  return _Unpickler(f, load_storage).load()


def load_pth(path: str | os.PathLike) -> Any:
  """Loads a ``torch.save`` file (zip or legacy); tensors come back as numpy arrays (bfloat16 -> float32)."""
  path = os.fspath(path)
  if not os.path.exists(path):
    raise FileNotFoundError(f'checkpoint not found: {path}')
  with open(path, 'rb') as f:
    is_zip = f.read(len(_ZIP_MAGIC)) == _ZIP_MAGIC
    f.seek(0)
    try:
      return _load_zip(f) if is_zip else _load_legacy(f, path)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, struct.error, ValueError, TypeError) as e:
      raise ValueError(f'{path}: {e}') from None


def load_pickle(file: BinaryIO, *, strict: bool = False) -> Any:
  """Safely unpickles a plain pickle (not ``torch.save``); torch tensors pickled by value come back as numpy.

  ``strict``: unknown globals raise ``pickle.UnpicklingError`` instead of becoming inert stand-ins.
  """
  return _Unpickler(file, strict=strict).load()


def stand_in_names(obj: Any) -> list[str]:
  """Sorted names of the unknown globals whose inert stand-ins occur anywhere in ``obj``."""
  names, seen, stack = set(), set(), [obj]
  while stack:
    item = stack.pop()
    if id(item) in seen:  # pickles may hold cycles
      continue
    seen.add(id(item))
    if isinstance(item, OpaqueObject):
      names.add(item.name)
      stack += [item.args, item.kwargs, item.state, item.dictitems, item.listitems]
    elif isinstance(item, dict):
      stack += list(item.keys()) + list(item.values())
    elif isinstance(item, (list, tuple, set, frozenset)):
      stack += list(item)
  return sorted(names)


def _describe(value: Any) -> str:
  if isinstance(value, OpaqueObject):
    return f'an instance of the unknown global {value.name} (kept inert, never imported or called)'
  if isinstance(value, np.ndarray):
    return f'a numpy array of dtype {value.dtype}'
  return f'a {type(value).__name__}'


def load_state_dict(path: str | os.PathLike) -> dict[str, np.ndarray]:
  """The ``state_dict`` of a checkpoint (or the checkpoint itself if it is a bare state dict).

  Every entry must be a tensor; anything else (an unknown global's stand-in included) is an error naming
  the key. Unknown globals elsewhere (mmengine ``meta``, ``message_hub``) stay inert, listed in one warning.
  """
  path = os.fspath(path)
  obj = load_pth(path)
  checkpoint = obj
  if isinstance(obj, dict) and 'state_dict' in obj and isinstance(obj['state_dict'], dict):
    obj = obj['state_dict']
  if not isinstance(obj, dict):
    raise ValueError(f'{path}: expected a state dict, got {_describe(obj)}')
  for key, value in obj.items():
    if not isinstance(value, np.ndarray) or value.dtype.hasobject:
      raise ValueError(f'{path}: state_dict entry {key!r} is {_describe(value)}, not a tensor')
  others = stand_in_names(checkpoint)
  if others:
    logging.warning('%s: %d unknown global(s) outside the state_dict kept as inert stand-ins (never imported '
                    'or called): %s', path, len(others), ', '.join(others))
  return dict(obj)
