"""Test-set evaluation of a checkpoint: MMAction2 accuracy metrics and an optional result pickle.

The result pickle (``--out``) follows MMAction2 1.x's ``tools/test.py --dump``: a list with one dict per test
sample, in dataset order, holding ``pred_score`` (float32 ``[num_classes]`` clip-averaged probabilities),
``pred_label`` (int64 ``[1]``) and ``gt_label`` (int64 ``[1]``). The values are numpy arrays, not torch
tensors, so the file loads without PyTorch (``skeljax.tools.fuse`` fuses several of them).
"""

from __future__ import annotations

import json
import logging
import pathlib
import pickle
import re
from typing import Any

import jax
import ml_collections
import numpy as np
import optax

from skeljax import checkpointing, metrics, sharding, train


def load_state_for_eval(cfg: ml_collections.ConfigDict, checkpoint: str | int | None,
                        workdir: str | pathlib.Path | None, mesh: jax.sharding.Mesh
                        ) -> tuple[train.TrainState, pathlib.Path]:
  """A replicated state holding the model of ``checkpoint`` (``checkpointing.resolve_checkpoint``: a step,
  ``'best'`` or ``'latest'`` of ``workdir``, or a folder).

  Only the checkpoint's ``model`` item is read, so converted MMAction2 checkpoints (``model`` + ``meta``) load.
  """
  step_dir = checkpointing.resolve_checkpoint(checkpoint, workdir)
  state = train.create_train_state(cfg.model, optax.identity(), cfg.seed, mesh)
  state = train.apply_model_dict(state, checkpointing.load_model_state(step_dir), strict=True,
                                 source=str(step_dir))
  return state, step_dir


def write_results(path: str | pathlib.Path, scores: np.ndarray, labels: np.ndarray) -> pathlib.Path:
  """Writes per-sample results in MMAction2 1.x dump form (list of dicts, see the module docstring)."""
  path = pathlib.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  scores = np.asarray(scores, np.float32)
  entries = [{'pred_score': score,
              'pred_label': np.array([int(np.argmax(score))], np.int64),
              'gt_label': np.array([int(label)], np.int64)} for score, label in zip(scores, labels)]
  with path.open('wb') as f:
    pickle.dump(entries, f, protocol=4)
  return path


def evaluate(cfg: ml_collections.ConfigDict, workdir: str | pathlib.Path | None, checkpoint: str | int | None = None,
             out: str | pathlib.Path | None = None, *, split: str | None = None,
             data: train.EvalData | None = None) -> dict[str, Any]:
  """Evaluates a checkpoint on ``cfg.dataset.test_split`` with ``cfg.test_pipeline``; returns the metrics.

  ``cfg.eval.test_num_clips``, when set, overrides the number of clips the test pipeline samples.

  ``checkpoint``: None (best, else latest, in ``workdir``), a step number, ``'best'`` or ``'latest'`` of
  ``workdir``, or a folder (a workdir, its ``checkpoints`` folder, or one step folder). ``out``: write the
  result pickle there.
  ``data`` overrides the configured split (tests).
  """
  mesh = sharding.make_mesh()
  state, step_dir = load_state_for_eval(cfg, checkpoint, workdir, mesh)
  step_cfg = train.make_step_config(cfg, steps_per_epoch=1, eval_mode=True)
  if data is None:
    from skeljax.data.pipeline import build_pipeline, with_num_clips  # pylint: disable=g-import-not-at-top
    split = split or cfg.dataset.test_split
    test_pipeline = with_num_clips(cfg.test_pipeline, cfg.eval.get('test_num_clips'))
    data = train.EvalData(train.open_split(cfg, split), build_pipeline(test_pipeline),
                          train.eval_batch_size(cfg.eval.get('batch_size', 64), mesh), train.data_seed(cfg.seed))
  p_eval_step = train.jit_eval_step(step_cfg, mesh, state)
  scores, labels, indices = train.predict_split(p_eval_step, state, data.batches(), mesh)
  order = np.argsort(indices, kind='stable')
  scores, labels = scores[order], labels[order]
  results = metrics.evaluate_scores(scores, labels, tuple(cfg.eval.get('topk', (1, 5))))
  results.update(num_samples=int(len(labels)), checkpoint=str(step_dir))
  if jax.process_index() == 0:
    for key, value in results.items():
      print(f'{key}: {value:.4f}' if isinstance(value, float) else f'{key}: {value}')
    if out:
      logging.info('wrote %s', write_results(out, scores, labels))
    if workdir is not None:
      path = pathlib.Path(workdir) / f'eval_{re.sub(r"[^A-Za-z0-9_.-]+", "_", split or "test")}.json'
      path.parent.mkdir(parents=True, exist_ok=True)
      path.write_text(json.dumps(results, indent=2) + '\n')
  return results

