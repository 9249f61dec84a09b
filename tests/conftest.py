"""Shared test fixtures: locations of the MMAction2 parity fixtures and of the real sample data.

Parity fixtures come from ``SKELJAX_PARITY_DIR`` (default ``../shared/parity``) and ``SKELJAX_PARITY0X_DIR``
(default ``../shared/parity0x``) and ``SKELJAX_PARITY_ZOO_DIR`` (default ``../shared/parity_zoo``). When a variable is set, a missing or unreadable file fails the test:
other fixture sets with the same layout are used to check these tests, so a skip would hide a bug.
Without the variable and without the default folder, parity tests skip with a message saying so.
"""

from __future__ import annotations

import json
import os
import pathlib
import sys

import numpy as np
import pytest
# pytest imports tracemalloc the first time it reports an unraisable exception (an error in a finaliser). When
# that first time falls inside TFDS's import, under etils' lazy-import hook, tracemalloc comes out broken and the
# report itself fails the test ("'LazyModule' object is not callable", seen once in test_loader). Imported
# here, before any test, the report is the warning pytest means it to be.
import tracemalloc  # noqa: F401  # pylint: disable=unused-import

REPO = pathlib.Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
  sys.path.insert(0, str(REPO))

# The tests compile as the commands do (XLA:CPU's own convolutions); set before any test creates JAX's backends.
from skeljax import runtime  # pylint: disable=g-import-not-at-top,wrong-import-position
runtime.set_cpu_compiler_options()
# ...except for LLVM's backend optimisations, off unless SKELJAX_TEST_FULL_OPT=1 (``runtime.FAST_COMPILE_XLA_FLAGS``:
# XLA's HLO passes, fusion decisions, buffer assignment and library kernels stay the commands'). Compiling is most
# of the suite's time: a third less CPU time with them off (tests/test_recompute.py's AAGCN case: 46 -> 30 s).
# Subprocesses the tests start inherit the flags.
if os.environ.get('SKELJAX_TEST_FULL_OPT', '') in ('', '0') and 'xla_backend_optimization_level' not in os.environ.get(
    'XLA_FLAGS', ''):
  os.environ['XLA_FLAGS'] = f"{os.environ.get('XLA_FLAGS', '')} {runtime.FAST_COMPILE_XLA_FLAGS}".strip()


class FixtureDir:
  """A folder of reference files; ``strict`` turns every missing or malformed file into a failure."""

  def __init__(self, env_var: str, default: pathlib.Path, what: str):
    value = os.environ.get(env_var)
    self.strict = bool(value)
    self.root = pathlib.Path(value) if value else default
    self.env_var, self.what = env_var, what
    if not self.root.is_dir():
      message = f'{what} folder {self.root} does not exist (set {env_var})'
      if self.strict:
        pytest.fail(message)
      pytest.skip(message)

  def path(self, name: str) -> pathlib.Path:
    """Path of a file that must exist (a missing file always fails: the folder itself is present)."""
    p = self.root / name
    if not p.is_file():
      pytest.fail(f'{self.what} file missing: {p}')
    return p

  def npz(self, name: str) -> dict[str, np.ndarray]:
    p = self.path(name)
    try:
      with np.load(p, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}
    except Exception as e:  # noqa: BLE001 - any read error is a malformed fixture
      pytest.fail(f'{self.what} file {p} is malformed: {e}')

  def json(self, name: str):
    p = self.path(name)
    try:
      return json.loads(p.read_text())
    except Exception as e:  # noqa: BLE001
      pytest.fail(f'{self.what} file {p} is malformed: {e}')

  @staticmethod
  def require(arrays: dict, key: str, name: str = '') -> np.ndarray:
    if key not in arrays:
      pytest.fail(f'parity fixture {name} lacks array {key!r}; has {sorted(arrays)[:20]}')
    return arrays[key]


@pytest.fixture(scope='session')
def parity_1x() -> FixtureDir:
  """MMAction2 1.2.0 fixtures."""
  return FixtureDir('SKELJAX_PARITY_DIR', REPO.parent / 'shared' / 'parity', 'MMAction2 1.x parity')


@pytest.fixture(scope='session')
def parity_0x() -> FixtureDir:
  """MMAction2 0.24.1 fixtures."""
  return FixtureDir('SKELJAX_PARITY0X_DIR', REPO.parent / 'shared' / 'parity0x', 'MMAction2 0.x parity')


@pytest.fixture(scope='session')
def parity_zoo() -> FixtureDir:
  """ST-GCN++, CTR-GCN, MS-G3D and DG-STGCN fixtures (MMAction2 1.2.0, its projects/, PySKL)."""
  return FixtureDir('SKELJAX_PARITY_ZOO_DIR', REPO.parent / 'shared' / 'parity_zoo', 'model-zoo parity')


@pytest.fixture(scope='session')
def sample_data() -> FixtureDir:
  """Small real skeleton data from public datasets (never copied into the repository)."""
  return FixtureDir('SKELJAX_DATA_DIR', REPO.parent / 'shared' / 'data', 'sample skeleton data')


def install_fake_modules(monkeypatch, modules: dict[str, dict], functions: dict[object, str]) -> None:
  """Registers stand-in modules (name -> attributes) in ``sys.modules`` for one test and gives each function
  in ``functions`` the module name a pickler should write for it (tests that hand-build torch pickles)."""
  import types  # pylint: disable=import-outside-toplevel
  for name, attrs in modules.items():
    module = types.ModuleType(name)
    module.__dict__.update(attrs)
    monkeypatch.setitem(sys.modules, name, module)
  for function, module_name in functions.items():
    monkeypatch.setattr(function, '__module__', module_name)


def assert_gradients_match_reference(flat_grads: dict, stats: dict, our_path, tolerance) -> None:
  """Gradient parity against a fixture's ``stats``: the global norm within 1e-4, then each tensor's norm.

  ``flat_grads`` maps our parameter paths to gradients; ``our_path(torch_key)`` names ours for a PyTorch key of
  ``stats['grad_norms']``; ``tolerance(torch_key) -> (rtol, atol)``, atol relative to the global norm.
  """
  global_norm = np.sqrt(sum(float(np.sum(np.asarray(g, np.float64) ** 2)) for g in flat_grads.values()))
  np.testing.assert_allclose(global_norm, stats['grad_global_norm'], rtol=1e-4)
  for torch_key, torch_norm in stats['grad_norms'].items():
    ours = float(np.linalg.norm(np.asarray(flat_grads[our_path(torch_key)]).ravel()))
    rtol, atol = tolerance(torch_key)
    np.testing.assert_allclose(ours, torch_norm, rtol=rtol, atol=atol * global_norm, err_msg=torch_key)
  assert len(stats['grad_norms']) == len(flat_grads)  # every trainable tensor has a reference gradient
