"""The pose environment seen from the main process: where its Python is, and running the worker in it.

``SKELJAX_POSE_PYTHON`` names its interpreter; by default ``.venv-pose/bin/python`` at the repository root
(``make pose-setup``). The worker gets only the repository on its path: nothing of the main environment
(numpy 2, protobuf 5+) leaks into MediaPipe's.
"""

from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence

from skeljax.video import VideoError

ENV_VAR = 'SKELJAX_POSE_PYTHON'
REPO = pathlib.Path(__file__).resolve().parents[2]
DEFAULT_PYTHON = REPO / '.venv-pose' / 'bin' / 'python'


class PoseEnvironmentError(RuntimeError):
  """The pose environment is missing or its worker crashed (not the video's fault)."""


def pose_python() -> pathlib.Path:
  """The pose environment's interpreter; raises ``PoseEnvironmentError`` saying how to set it up."""
  value = os.environ.get(ENV_VAR)
  python = pathlib.Path(value) if value else DEFAULT_PYTHON
  if not (python.is_file() and os.access(python, os.X_OK)):
    where = f'{ENV_VAR}={value}' if value else str(python)
    raise PoseEnvironmentError(
        f'the pose environment (MediaPipe) is not set up: {where} is not an executable Python. Run '
        f'`make pose-setup` (creates .venv-pose from requirements-pose.txt) or set {ENV_VAR}')
  return python


def print_progress(line: str) -> None:
  """Default progress sink: the line on stderr."""
  print(line, file=sys.stderr, flush=True)


def run_worker(command: str, args: Sequence[str], *,
               progress: Callable[[str], None] | None = print_progress) -> dict:
  """Runs ``skeljax.video.worker <command> <args>`` in the pose environment; returns its JSON result.

  A video the worker cannot use raises ``VideoError`` with its message (naming the file); a crash raises
  ``PoseEnvironmentError`` with the end of its stderr. Progress lines go to ``progress``.
  """
  python = pose_python()
  env = {k: v for k, v in os.environ.items() if not k.startswith('PYTHON')}
  env.update(PYTHONPATH=str(REPO), PYTHONNOUSERSITE='1', GLOG_minloglevel='2', TF_CPP_MIN_LOG_LEVEL='2')
  with tempfile.TemporaryDirectory(prefix='skeljax-pose-') as tmp:
    result_path = pathlib.Path(tmp) / 'result.json'
    stderr_path = pathlib.Path(tmp) / 'stderr.txt'
    with stderr_path.open('w') as stderr:
      process = subprocess.Popen(
          [str(python), '-m', 'skeljax.video.worker', command, *map(str, args), '--result', str(result_path)],
          stdout=subprocess.PIPE, stderr=stderr, env=env, text=True)
      for line in process.stdout:
        if progress is not None:
          progress(line.rstrip('\n'))
      status = process.wait()
    result = json.loads(result_path.read_text()) if result_path.is_file() else None
    if status == 2 and result and 'error' in result:
      raise VideoError(result['error'])
    if status != 0 or result is None:
      tail = stderr_path.read_text(errors='replace').strip().splitlines()[-15:]
      raise PoseEnvironmentError(f'the pose worker ({python}) failed with exit status {status} running '
                                 f'{command!r}:\n' + '\n'.join(tail))
  return result
