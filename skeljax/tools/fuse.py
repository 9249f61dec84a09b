"""Late fusion of dumped test results (MMAction2's ``report_accuracy.py``), e.g. joint + bone streams.

  python -m skeljax.tools.fuse --results joint.pkl bone.pkl --coefficients 1 1
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1 [--apply-softmax]

Each file is a result pickle in MMAction2 1.x form: a list with one dict per test sample holding ``pred_score``
(class scores, already clip-averaged probabilities for GCN / I3D heads) and ``gt_label`` (1.0 / 1.1 dumps:
``pred_scores['item']`` and ``gt_labels['item']``), as written by
``python -m skeljax.main --mode=eval --out=...`` (numpy) or MMAction2's ``tools/test.py --dump`` (torch tensors,
read without PyTorch and without running pickle code). The fused score is the weighted sum of the (optionally
softmaxed) scores; the tool prints top-1, top-5 and mean-class accuracy against ``gt_label``.
"""

from __future__ import annotations

import argparse
import pathlib
import pickle
import sys
from collections.abc import Sequence

import numpy as np

from skeljax import metrics
from skeljax.checkpoint import torch_pickle


def _as_label(value, path: pathlib.Path, index: int) -> int:
  label = np.asarray(value)
  if label.size != 1 or not np.issubdtype(label.dtype, np.integer):
    raise ValueError(f'{path}: sample {index} has gt_label {value!r}; expected one integer class index')
  return int(label.reshape(()))


def _entry_1x(entry):
  """MMAction2 1.0 / 1.1 dumps nest scores and labels as ``pred_scores={'item': ...}`` /
  ``gt_labels={'item': ...}`` (their ``LabelData``); 1.2 and skeljax write ``pred_score`` / ``gt_label``."""
  if not isinstance(entry, dict) or 'pred_score' in entry:
    return entry
  nested = {'pred_scores': 'pred_score', 'gt_labels': 'gt_label'}
  out = dict(entry)
  for old_key, new_key in nested.items():
    value = entry.get(old_key)
    if isinstance(value, dict) and 'item' in value:
      out[new_key] = value['item']
  return out


def load_results(path: str | pathlib.Path) -> tuple[np.ndarray, np.ndarray]:
  """Reads a result pickle -> (scores [N, num_classes] float64, labels [N] int64), validating every entry."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f'result file {path} does not exist')
  with path.open('rb') as f:
    try:
      # strict: a result file holds only containers, numpy and torch tensors, so any other class is refused.
      entries = torch_pickle.load_pickle(f, strict=True)
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError) as e:
      raise ValueError(f'{path}: cannot read result pickle: {e}') from None
  if not isinstance(entries, (list, tuple)) or not entries:
    raise ValueError(f'{path}: expected a non-empty list of per-sample dicts, got {type(entries).__name__}')
  scores, labels = [], []
  for i, entry in enumerate(entries):
    entry = _entry_1x(entry)
    if not isinstance(entry, dict) or 'pred_score' not in entry or 'gt_label' not in entry:
      keys = sorted(entry) if isinstance(entry, dict) else type(entry).__name__
      raise ValueError(f'{path}: sample {i} lacks pred_score/gt_label (has {keys})')
    score = np.asarray(entry['pred_score'], dtype=np.float64)
    if score.ndim != 1 or not np.all(np.isfinite(score)):
      raise ValueError(f'{path}: sample {i} pred_score must be a finite 1-D vector, got shape {score.shape}')
    if scores and score.shape != scores[0].shape:
      raise ValueError(f'{path}: sample {i} has {score.shape[0]} classes, sample 0 has {scores[0].shape[0]}')
    scores.append(score)
    labels.append(_as_label(entry['gt_label'], path, i))
  return np.stack(scores), np.asarray(labels, dtype=np.int64)


def _softmax(x: np.ndarray) -> np.ndarray:
  e = np.exp(x - x.max(axis=1, keepdims=True))
  return e / e.sum(axis=1, keepdims=True)


def fuse_scores(score_list: Sequence[np.ndarray], coefficients: Sequence[float],
                apply_softmax: bool = False) -> np.ndarray:
  """Weighted sum of per-stream scores, each [N, num_classes]; softmax first when asked."""
  if len(score_list) != len(coefficients):
    raise ValueError(f'{len(score_list)} result files but {len(coefficients)} coefficients')
  fused = np.zeros_like(score_list[0], dtype=np.float64)
  for score, weight in zip(score_list, coefficients):
    fused += weight * (_softmax(score) if apply_softmax else score)
  return fused


def fuse_files(paths: Sequence[str], coefficients: Sequence[float], apply_softmax: bool = False,
               topk: Sequence[int] = (1, 5)) -> dict[str, float]:
  """Fuses result files and returns {'top1': .., 'top5': .., 'mean_class_accuracy': ..} (fractions)."""
  loaded = [load_results(p) for p in paths]
  labels = loaded[0][1]
  for path, (scores, other) in zip(paths, loaded):
    if scores.shape != loaded[0][0].shape:
      raise ValueError(f'{path}: scores of shape {scores.shape} do not match {paths[0]}: {loaded[0][0].shape}')
    if not np.array_equal(other, labels):
      bad = int(np.flatnonzero(other != labels)[0])
      raise ValueError(f'{path}: gt_label of sample {bad} differs from {paths[0]}; results must be in the same '
                       'sample order')
  fused = fuse_scores([s for s, _ in loaded], coefficients, apply_softmax)
  accuracies = metrics.top_k_accuracy(fused, labels, tuple(topk))
  out = {f'top{k}': float(a) for k, a in zip(topk, accuracies)}
  out['mean_class_accuracy'] = float(metrics.mean_class_accuracy(fused, labels))
  return out


def main(argv: Sequence[str] | None = None) -> int:
  parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
  parser.add_argument('--results', nargs='+', required=True, help='result pickles, one per stream')
  parser.add_argument('--coefficients', nargs='+', type=float, required=True, help='one weight per file')
  parser.add_argument('--apply-softmax', action='store_true', help='softmax each score before summing')
  args = parser.parse_args(argv)
  try:
    report = fuse_files(args.results, args.coefficients, args.apply_softmax)
  except (ValueError, FileNotFoundError) as e:
    print(f'error: {e}', file=sys.stderr)
    return 1
  for name, value in report.items():
    print(f'{name}: {value:.4f}')
  return 0


if __name__ == '__main__':
  sys.exit(main())
