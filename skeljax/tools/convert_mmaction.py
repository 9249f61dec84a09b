r"""Converts an MMAction2 / PySKL ``.pth`` checkpoint into a skeljax checkpoint that evaluation loads.

  python -m skeljax.tools.convert_mmaction --config=configs/posec3d_ntu60.py:xsub,keypoint \
      --checkpoint=slowonly_r50_8xb16-u48-240e_ntu60-xsub-keypoint_20220815-38db104b.pth --workdir=$WD

The config's ``model`` block builds the model (override fields with ``--config.model.<field>=...``);
``--edition`` (1.x, 0.x or pyskl) defaults to the model block's ``edition``, else 1.x; a GCN checkpoint's
classifier may be ``cls_head.fc`` (MMAction2) or ``cls_head.fc_cls`` (PySKL) whatever the edition. The
result is step 0 of ``$WD/checkpoints``. A checkpoint that does not fit the model prints every unknown, missing and
mis-shaped key and exits with status 1. PyTorch is not needed.
"""

from __future__ import annotations

import sys

from absl import app
from absl import flags
from absl import logging
from ml_collections import config_flags

from skeljax.checkpoint import convert
from skeljax.checkpoint.mmaction import CheckpointMismatchError

_CONFIG = config_flags.DEFINE_config_file('config', None, 'skeljax config file (path.py[:arg]).')
_CHECKPOINT = flags.DEFINE_string('checkpoint', None, 'MMAction2 / PySKL .pth checkpoint.')
_WORKDIR = flags.DEFINE_string('workdir', None, 'Output workdir; the checkpoint goes to <workdir>/checkpoints/0.')
_EDITION = flags.DEFINE_enum('edition', None, ['1.x', '0.x', 'pyskl'],
                             "Checkpoint naming; default: the model's own edition, else 1.x.")
flags.mark_flags_as_required(['config', 'checkpoint', 'workdir'])


def run(cfg, checkpoint: str, workdir: str, edition: str | None = None) -> str:
  """Converts ``checkpoint`` for ``cfg.model`` and saves it under ``workdir``; returns the step directory."""
  model = convert.convert_checkpoint(cfg.model, checkpoint, edition)
  meta = {'source': str(checkpoint), 'edition': convert.resolve_edition(cfg.model, edition, model),
          'model': cfg.model.to_dict()}
  return str(convert.save_converted(model, workdir, meta))


def main(argv):
  if len(argv) > 1:
    raise app.UsageError(f'unexpected arguments: {argv[1:]}')
  if not flags.FLAGS['verbosity'].present:
    logging.set_verbosity(logging.WARNING)  # orbax logs every save step at INFO
  try:
    step_dir = run(_CONFIG.value, _CHECKPOINT.value, _WORKDIR.value, _EDITION.value)
  except (CheckpointMismatchError, FileNotFoundError, FileExistsError, ValueError) as e:
    print(f'convert_mmaction: {e}', file=sys.stderr)
    sys.exit(1)
  print(f'converted {_CHECKPOINT.value} -> {step_dir}')


if __name__ == '__main__':
  app.run(main)
