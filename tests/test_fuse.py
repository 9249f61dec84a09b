"""Late fusion tool: hand-made result pickles where fusing changes the argmax (expected values worked by hand)."""

import pickle

import numpy as np
import pytest

from skeljax.tools import fuse

LABELS = [0, 1, 2, 3]
# Joint stream: right on samples 0 and 3 (top-1 0.5). Bone stream: right on samples 1 and 2 (top-1 0.5).
JOINT = [[0.7, 0.2, 0.1, 0, 0, 0], [0.6, 0.3, 0.1, 0, 0, 0], [0.1, 0.1, 0.3, 0.5, 0, 0], [0, 0, 0, 0.9, 0.1, 0]]
BONE = [[0.3, 0.6, 0.1, 0, 0, 0], [0.1, 0.8, 0.1, 0, 0, 0], [0, 0, 0.7, 0.3, 0, 0], [0, 0, 0, 0.2, 0.8, 0]]


def _dump(path, scores, labels):
  # The MMAction2 1.x result form the engine writes: one dict per sample.
  entries = [{'pred_score': np.asarray(s, np.float32), 'pred_label': int(np.argmax(s)), 'gt_label': np.int64(y)}
             for s, y in zip(scores, labels)]
  with open(path, 'wb') as f:
    pickle.dump(entries, f)
  return str(path)


@pytest.fixture
def streams(tmp_path):
  return _dump(tmp_path / 'joint.pkl', JOINT, LABELS), _dump(tmp_path / 'bone.pkl', BONE, LABELS)


def test_each_stream_alone(streams):
  joint, bone = streams
  # Joint predicts [0, 0, 3, 3]: classes 0 and 3 right, 1 and 2 wrong.
  assert fuse.fuse_files([joint], [1.0]) == pytest.approx({'top1': 0.5, 'top5': 1.0, 'mean_class_accuracy': 0.5})
  # Zero weight on joint leaves bone alone: predicts [1, 1, 2, 4].
  report = fuse.fuse_files([joint, bone], [0.0, 1.0])
  assert report['top1'] == pytest.approx(0.5)


def test_fusion_changes_argmax(streams):
  # Summed 1:1 scores: [1.0, 0.8, ...] -> 0, [0.7, 1.1] -> 1, [.., 1.0, 0.8] -> 2, [.., 1.1, 0.9] -> 3.
  report = fuse.fuse_files(list(streams), [1.0, 1.0])
  assert report == pytest.approx({'top1': 1.0, 'top5': 1.0, 'mean_class_accuracy': 1.0})
  # 1:3 lets bone's mistakes win back: sample 0 [1.6, 2.0] -> 1, sample 3 [.., 1.5, 2.5] -> 4; 2 of 4 right.
  assert fuse.fuse_files(list(streams), [1.0, 3.0])['top1'] == pytest.approx(0.5)


def test_apply_softmax_on_logits(tmp_path):
  # Raw sum [1, 0.9, -5] -> class 0; softmax sum [0.576+0.288, 0.212+0.710, ...] -> class 1 (the label).
  a = _dump(tmp_path / 'a.pkl', [[1.0, 0.0, 0.0]], [1])
  b = _dump(tmp_path / 'b.pkl', [[0.0, 0.9, -5.0]], [1])
  assert fuse.fuse_files([a, b], [1, 1], topk=(1,))['top1'] == 0.0
  assert fuse.fuse_files([a, b], [1, 1], apply_softmax=True, topk=(1,))['top1'] == 1.0


def test_cli_prints_report(streams, capsys):
  assert fuse.main(['--results', *streams, '--coefficients', '1', '1']) == 0
  out = capsys.readouterr().out
  assert 'top1: 1.0000' in out and 'mean_class_accuracy: 1.0000' in out


def test_bad_inputs_name_the_file(tmp_path, streams, capsys):
  joint, _ = streams
  other = _dump(tmp_path / 'shuffled.pkl', BONE, [1, 0, 2, 3])
  with pytest.raises(ValueError, match='shuffled.pkl.*sample 0'):
    fuse.fuse_files([joint, other], [1, 1])
  with pytest.raises(ValueError, match='2 result files but 1 coefficients'):
    fuse.fuse_files([joint, joint], [1])
  broken = tmp_path / 'broken.pkl'
  broken.write_bytes(pickle.dumps([{'pred_score': np.zeros(3)}]))
  with pytest.raises(ValueError, match='broken.pkl: sample 0 lacks'):
    fuse.load_results(broken)
  evil = tmp_path / 'evil.pkl'
  evil.write_bytes(pickle.dumps([{'pred_score': np.zeros(3), 'gt_label': 0, 'x': pickle.PicklingError}]))
  with pytest.raises(ValueError, match='evil.pkl: cannot read'):
    fuse.load_results(evil)
  assert fuse.main(['--results', str(tmp_path / 'missing.pkl'), '--coefficients', '1']) == 1
  assert 'missing.pkl' in capsys.readouterr().err
