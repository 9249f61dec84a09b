"""Copying an MMAction2 state dict into a skeljax model, with every mismatch reported at once.

A model family describes its checkpoint as a :class:`KeyMap`: for each MMAction2 key, the path of the
skeljax variable it fills (a tuple into ``nnx.state(model)``) and the layout transform (e.g. PyTorch
``[O, I, kT, kV]`` -> Flax ``[kT, kV, I, O]``). Buffers that must match the configured model (the fixed graph
``A``) are listed as checks. Unknown, missing and mis-shaped keys raise one error that lists them all.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable

import numpy as np
from flax import nnx

Transform = Callable[[np.ndarray], np.ndarray]


def identity(a: np.ndarray) -> np.ndarray:
  return a


def conv_to_flax(a: np.ndarray) -> np.ndarray:
  """PyTorch conv weight ``[O, I, *k]`` -> Flax ``[*k, I, O]`` (1-D, 2-D and 3-D)."""
  return np.transpose(a, tuple(range(2, a.ndim)) + (1, 0))


def linear_to_flax(a: np.ndarray) -> np.ndarray:
  """PyTorch Linear ``[out, in]`` (or a 1x1 conv ``[out, in, 1, 1]``) -> Flax Dense ``[in, out]``."""
  return a.reshape(a.shape[0], -1).T


class CheckpointMismatchError(ValueError):
  """The checkpoint does not fit the configured model."""


@dataclasses.dataclass
class KeyMap:
  """MMAction2 key -> (skeljax state path, transform); plus buffers to verify and keys to ignore."""
  params: dict[str, tuple[tuple, Transform]] = dataclasses.field(default_factory=dict)
  checks: dict[str, np.ndarray] = dataclasses.field(default_factory=dict)
  ignore_suffixes: tuple[str, ...] = ('num_batches_tracked',)
  ignore_prefixes: tuple[str, ...] = ('data_preprocessor.',)

  def add(self, key: str, path: Iterable, transform: Transform = identity) -> None:
    self.params[key] = (tuple(path), transform)

  def add_batchnorm(self, prefix: str, path: Iterable) -> None:
    """The four tensors of a PyTorch BatchNorm into skeljax's ``layers.BatchNorm``."""
    path = tuple(path)
    for torch_name, ours in (('weight', 'scale'), ('bias', 'bias'), ('running_mean', 'mean'),
                             ('running_var', 'var')):
      self.add(f'{prefix}.{torch_name}', path + (ours,))

  def add_conv(self, prefix: str, path: Iterable, bias: bool = True) -> None:
    path = tuple(path)
    self.add(f'{prefix}.weight', path + ('kernel',), conv_to_flax)
    if bias:
      self.add(f'{prefix}.bias', path + ('bias',))

  def add_linear(self, prefix: str, path: Iterable) -> None:
    path = tuple(path)
    self.add(f'{prefix}.weight', path + ('kernel',), linear_to_flax)
    self.add(f'{prefix}.bias', path + ('bias',))


def _ignored(key: str, key_map: KeyMap) -> bool:
  return key.endswith(key_map.ignore_suffixes) or key.startswith(key_map.ignore_prefixes)


def load_state_dict_into(model: nnx.Module, state_dict: dict[str, np.ndarray], key_map: KeyMap,
                         source: str = 'checkpoint') -> None:
  """Fills ``model`` in place from ``state_dict``; raises CheckpointMismatchError listing every problem."""
  state = nnx.state(model)
  flat = dict(nnx.to_flat_state(state))
  unknown = sorted(k for k in state_dict
                   if k not in key_map.params and k not in key_map.checks and not _ignored(k, key_map))
  missing = sorted(k for k in list(key_map.params) + list(key_map.checks) if k not in state_dict)
  problems, updates = [], {}
  for key, (path, transform) in key_map.params.items():
    if key not in state_dict:
      continue
    if path not in flat:
      problems.append(f'{key}: model has no variable {"/".join(map(str, path))}')
      continue
    value = transform(np.asarray(state_dict[key]))
    target = flat[path]
    if tuple(value.shape) != tuple(target.shape):
      problems.append(f'{key}: checkpoint shape {tuple(state_dict[key].shape)} -> {tuple(value.shape)}, '
                      f'model expects {tuple(target.shape)}')
      continue
    updates[path] = value.astype(target.dtype)
  for key, expected in key_map.checks.items():
    if key in state_dict:
      got = np.asarray(state_dict[key])
      if got.shape != expected.shape or not np.allclose(got, expected, atol=1e-6):
        problems.append(f'{key}: checkpoint buffer differs from the configured model '
                        f'(wrong graph layout/strategy or MMAction2 edition?)')
  if unknown or missing or problems:
    lines = [f'{source} does not match the model:']
    if unknown:
      lines.append(f'  unknown keys ({len(unknown)}): {", ".join(unknown)}')
    if missing:
      lines.append(f'  missing keys ({len(missing)}): {", ".join(missing)}')
    lines += [f'  {p}' for p in problems]
    raise CheckpointMismatchError('\n'.join(lines))
  nnx.update(model, nnx.from_flat_state({p: (updates[p] if p in updates else v) for p, v in flat.items()}))
