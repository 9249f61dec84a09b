"""Process housekeeping for XLA:CPU: where a step's buffers come from, and what the heap keeps.

On a 2-core CPU, a fifth to a third of an XLA:CPU train step was the kernel's, not XLA's: every run allocates
its temporary buffer anew (1.2 GB for an ST-GCN step at batch 8, 2.2 GB for PoseC3D at batch 4), glibc maps
such a block freshly with ``mmap`` and unmaps it when the run ends, and the next run touches every page of
the new mapping once more: 310 k page faults and 0.6-0.9 s of system time per ST-GCN step (PyTorch's
per-tensor blocks stay in the heap and are reused). Two settings keep the block in the heap instead:

- ``run_cpu_steps_inline`` (before JAX creates its backends): single-device CPU computations run on the calling
  thread, whose heap is glibc's main arena; dispatched asynchronously they ran on a worker thread, whose
  arena cannot hold a block beyond 64 MB and maps every one freshly whatever the options say;
- ``retain_freed_memory`` (once the backend is known to be the CPU): the main arena grows by ``brk`` only and
  no longer trims the freed memory at its top, so the next run's buffer reuses the same, already-mapped pages.

Measured side by side in BENCHMARKS.md; PyTorch's allocator does the same through the heap's reuse.

One compiler option too, ``set_cpu_compiler_options`` (before JAX creates its backends): XLA:CPU computes
convolutions with its own kernels instead of YNNPACK's, which ran PoseC3D's convolution gradients on one thread
(the stem's kernel gradient alone took 1.2 s of a 5.2 s train step).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import os

# glibc mallopt parameters (malloc.h).
_M_TRIM_THRESHOLD, _M_MMAP_MAX = -1, -4


@functools.cache
def _libc():
  name = ctypes.util.find_library('c')
  try:
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, 'malloc_trim') and hasattr(libc, 'mallopt') else None
  except OSError:
    return None


def run_cpu_steps_inline() -> None:
  """Runs single-device XLA:CPU computations on the calling thread (no asynchronous dispatch).

  Takes effect only before JAX creates its backends (call it at the start of a command). Multi-device
  computations stay asynchronous, and accelerators are not affected. What a CPU training loop gives up is
  overlapping the host pipeline's next batch with the step, which on two cores competed for them anyway and
  is small beside it (a GCN batch's transforms take milliseconds, its step seconds; ``worker_count`` moves
  the pipeline into its own processes).
  """
  import jax  # pylint: disable=g-import-not-at-top
  jax.config.update('jax_cpu_enable_async_dispatch', False)


# XLA:CPU's YNNPACK fusion types: its default without ``individual_convolution``. With it, PoseC3D's 2-D
# convolutions (the (1, k, k) convs over frames folded into the batch) went to YNNPACK, which computed their
# kernel gradients as convolutions with a window the size of the image on one thread: the (1, 7, 7) stem's took
# 1.2 s (27 GFLOP/s), each (1, 3, 3) conv's 30-80 ms. XLA's own convolutions: PoseC3D train step 5.0 -> 3.1 s,
# inference 1.17 -> 0.76 s (batch 4); the GCNs' steps compile to the same programs (YNNPACK took none of their
# 1-D convs).
YNN_FUSION_TYPES = 'individual_dot,reduce'
_YNN_FLAG = '--xla_cpu_experimental_ynn_fusion_type'
# For runs that check behaviour, not speed (the test suite, gpu_check's CPU smoke mode): LLVM's backend
# optimisations off. XLA's HLO passes, fusions, buffer assignment and library kernels stay as they are; only the
# machine code of fused loops is less optimised, and compiling takes a third less CPU time or more.
FAST_COMPILE_XLA_FLAGS = '--xla_backend_optimization_level=0 --xla_llvm_disable_expensive_passes=true'


def set_cpu_compiler_options() -> None:
  """XLA:CPU compiles convolutions to its own kernels, not YNNPACK's (``YNN_FUSION_TYPES`` says why).

  Sets ``XLA_FLAGS``, so it takes effect only before JAX creates its backends (call it at the start of a
  command); a ``--xla_cpu_experimental_ynn_fusion_type`` already in ``XLA_FLAGS`` is the user's and stays.
  Accelerators ignore the option.
  """
  flags = os.environ.get('XLA_FLAGS', '')
  if _YNN_FLAG not in flags:
    os.environ['XLA_FLAGS'] = f'{flags} {_YNN_FLAG}={YNN_FUSION_TYPES}'.strip()


@functools.cache
def retain_freed_memory() -> bool:
  """On the CPU backend with glibc: no ``mmap`` for the main heap's blocks and no automatic trimming of its top,
  so that each run's temporary buffer reuses the pages of the previous run's (what was freed stays mapped until
  the next ``release_free_memory``). Returns whether the options were set; a no-op elsewhere (accelerators
  keep their buffers on the device).
  """
  import jax  # pylint: disable=g-import-not-at-top
  libc = _libc()
  if libc is None or jax.default_backend() != 'cpu':
    return False
  # A trim threshold of -1 turns automatic trimming off (mallopt(3)); explicit malloc_trim still works.
  return all(libc.mallopt(param, value) == 1 for param, value in ((_M_MMAP_MAX, 0), (_M_TRIM_THRESHOLD, -1)))


def release_free_memory() -> None:
  """Hands the C heap's free pages back to the OS (glibc's ``malloc_trim``; a no-op without glibc), then keeps
  what the steps free from now on (``retain_freed_memory``).

  Compiling a step leaves the compiler's freed memory in the heap (about 0.5 GB after a PoseC3D train
  step), and the step's own buffers are then mapped beside it: called after compiling, the process's
  peak memory is the step's, not the step's plus the compiler's leftovers.
  """
  libc = _libc()
  if libc is not None:
    libc.malloc_trim(0)
  retain_freed_memory()
