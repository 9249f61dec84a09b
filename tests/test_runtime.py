"""skeljax.runtime: a CPU step's temporary buffer reuses the previous run's pages instead of faulting in new ones;
convolutions compile to XLA:CPU's own kernels, not YNNPACK's."""

from __future__ import annotations

import json
import os
import pathlib
import statistics
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Runs a jitted function whose temporary buffers (two [2048, 8192] float32 intermediates, 64 MB each: beyond
# what a worker thread's glibc arena holds) are allocated anew on every run, and prints the page faults of
# every run. The heap settles in the first few runs, and now and then a small block lands in the freed
# buffer, which the next run then maps anew: the median of the last seven runs is compared. The settings
# must be made in a fresh process: the dispatch flag acts only before the backends exist.
_PROBE = """
import json, resource, sys
sys.path.insert(0, {root!r})
from skeljax import runtime
if {tuned}:
  runtime.run_cpu_steps_inline()
import jax, jax.numpy as jnp
def step(x, w):
  return jnp.sin(x) @ w + jnp.cos(x)[::-1] @ w
x, w = jnp.ones((2048, 8192)), jnp.ones((8192, 8))
compiled = jax.jit(step).lower(x, w).compile()
if {tuned}:
  runtime.release_free_memory()
temp = compiled.memory_analysis().temp_size_in_bytes
faults = []
for _ in range(10):
  before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
  jax.block_until_ready(compiled(x, w))
  faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
print(json.dumps(dict(temp_pages=temp // 4096, faults=faults, retained=runtime.retain_freed_memory())))
"""


def _probe(tuned: bool) -> dict:
  env = dict(os.environ, JAX_PLATFORMS='cpu', JAX_NUM_CPU_DEVICES='1')
  out = subprocess.run([sys.executable, '-c', _PROBE.format(root=str(ROOT), tuned=tuned)], check=True,
                       capture_output=True, text=True, env=env)
  return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not sys.platform.startswith('linux'), reason='glibc heap options')
def test_step_buffers_reuse_their_pages_with_inline_dispatch_and_a_retaining_heap():
  default, tuned = _probe(False), _probe(True)
  pages = default['temp_pages']
  assert pages >= 2 * 16384, default  # the probe has the large temporaries it is meant to have
  # By default every run maps its temporaries afresh and faults in each page again ...
  assert statistics.median(default['faults'][-7:]) > pages // 2, default
  # ... with the two settings the pages of the previous run are reused: almost no faults.
  assert tuned['retained'], tuned
  assert statistics.median(tuned['faults'][-7:]) < pages // 20, tuned


# Compiles the kernel gradient of a (7, 7) 2-D convolution (PoseC3D's stem, small) and prints how many YNNPACK
# fusions of the compiled program contain a convolution.
_CONV_PROBE = """
import json, re, sys
sys.path.insert(0, {root!r})
from skeljax import runtime
if {tuned}:
  runtime.set_cpu_compiler_options()
import jax, jax.numpy as jnp
def loss(kernel, x):
  y = jax.lax.conv_general_dilated(x, kernel, (1, 1), ((3, 3), (3, 3)),
                                   dimension_numbers=('NHWC', 'HWIO', 'NHWC'))
  return (y * y).sum()
x, kernel = jnp.ones((8, 28, 28, 17)), jnp.ones((7, 7, 17, 32))
hlo = jax.jit(jax.grad(loss)).lower(kernel, x).compile().as_text()
bodies = dict(re.findall(r'\\n%?([\\w.\\-]+) [^\\n]*\\{{\\n(.*?)\\n\\}}', hlo, re.S))
ynn = re.findall(r'kind=kCustom, calls=%?([\\w.\\-]+)[^\\n]*__ynn_fusion', hlo)
print(json.dumps(dict(ynn_convolutions=sum(' convolution(' in bodies.get(name, '') for name in ynn),
                      convolutions=hlo.count(' convolution('))))
"""


def _conv_probe(tuned: bool) -> dict:
  env = {k: v for k, v in os.environ.items() if k != 'XLA_FLAGS'}  # XLA's defaults (the suite sets the option)
  env.update(JAX_PLATFORMS='cpu', JAX_NUM_CPU_DEVICES='1')
  out = subprocess.run([sys.executable, '-c', _CONV_PROBE.format(root=str(ROOT), tuned=tuned)], check=True,
                       capture_output=True, text=True, env=env)
  return json.loads(out.stdout.strip().splitlines()[-1])


def test_convolutions_compile_to_xla_kernels_not_ynnpack():
  """With ``set_cpu_compiler_options`` no convolution goes to YNNPACK (which ran PoseC3D's kernel gradients on one
  thread); XLA's default sends this one there."""
  default, tuned = _conv_probe(False), _conv_probe(True)
  assert default['ynn_convolutions'] >= 1, default
  assert tuned['ynn_convolutions'] == 0 and tuned['convolutions'] >= 1, tuned


def test_cpu_compiler_options_keep_the_users_choice(monkeypatch):
  """The option is appended to ``XLA_FLAGS`` once; a YNNPACK fusion type the user gave stays as it is."""
  from skeljax import runtime  # pylint: disable=g-import-not-at-top
  monkeypatch.setenv('XLA_FLAGS', '--xla_dump_to=/tmp/x')
  runtime.set_cpu_compiler_options()
  option = f'--xla_cpu_experimental_ynn_fusion_type={runtime.YNN_FUSION_TYPES}'
  assert os.environ['XLA_FLAGS'] == f'--xla_dump_to=/tmp/x {option}'
  runtime.set_cpu_compiler_options()  # idempotent
  assert os.environ['XLA_FLAGS'].count('ynn_fusion_type') == 1
  monkeypatch.setenv('XLA_FLAGS', '--xla_cpu_experimental_ynn_fusion_type=dot')
  runtime.set_cpu_compiler_options()
  assert os.environ['XLA_FLAGS'] == '--xla_cpu_experimental_ynn_fusion_type=dot'
