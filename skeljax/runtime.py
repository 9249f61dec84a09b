"""Process housekeeping around XLA compilation."""

from __future__ import annotations

import ctypes
import ctypes.util
import functools


@functools.cache
def _libc():
  name = ctypes.util.find_library('c')
  try:
    libc = ctypes.CDLL(name)
    return libc if hasattr(libc, 'malloc_trim') else None
  except OSError:
    return None


def release_free_memory() -> None:
  """Hands the C heap's free pages back to the OS (glibc's ``malloc_trim``; a no-op without glibc).

  Compiling a step leaves the compiler's freed memory in the heap (about 0.5 GB after a PoseC3D train
  step), and the step's own buffers are then mapped beside it: called after compiling, the process's
  peak memory is the step's, not the step's plus the compiler's leftovers.
  """
  libc = _libc()
  if libc is not None:
    libc.malloc_trim(0)
