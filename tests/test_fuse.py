"""Late fusion tool: hand-made result pickles where fusing changes the argmax (expected values worked by hand)."""

import collections
import io
import pickle
import struct
import sys

import numpy as np
import pytest

from conftest import install_fake_modules
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


def _rebuild_tensor_v2(*args):
  raise AssertionError('only pickled by reference, never called')


def _load_from_bytes(data):
  raise AssertionError('only pickled by reference, never called')


class _Storage:
  """A torch storage pickled by value: ``_load_from_bytes(<legacy torch.save of the storage alone>)``."""

  def __init__(self, array):
    self.array = np.ascontiguousarray(array).ravel()

  def __reduce__(self):
    torch = sys.modules['torch']
    storage_type = torch.FloatStorage if self.array.dtype == np.float32 else torch.LongStorage
    saved = io.BytesIO()
    sys_info = {'protocol_version': 1001, 'little_endian': True, 'type_sizes': {'short': 2, 'int': 4, 'long': 8}}
    for header in (0x1950A86A20F9469CFC6C, 1001, sys_info):
      pickle.dump(header, saved, protocol=2)
    pickler = pickle.Pickler(saved, protocol=2)
    pid = ('storage', storage_type, '9410', 'cpu', self.array.size, None)
    pickler.persistent_id = lambda obj: pid if obj is self.array else None
    pickler.dump(self.array)
    pickle.dump(['9410'], saved, protocol=2)
    saved.write(struct.pack('<q', self.array.size) + self.array.tobytes())
    return (_load_from_bytes, (saved.getvalue(),))


class _Tensor:
  """A contiguous torch tensor as ``pickle.dump`` writes it (``torch._utils._rebuild_tensor_v2``)."""

  def __init__(self, array):
    self.array = np.asarray(array)

  def __reduce_ex__(self, protocol):
    stride = tuple(s // self.array.itemsize for s in self.array.strides)
    return (_rebuild_tensor_v2, (_Storage(self.array), 0, self.array.shape, stride, False, collections.OrderedDict()))


@pytest.fixture
def fake_torch(monkeypatch):
  """The torch names the pickler must resolve while writing; the reader imports none of them."""
  modules = {'torch': {'FloatStorage': type('FloatStorage', (), {'__module__': 'torch'}),
                       'LongStorage': type('LongStorage', (), {'__module__': 'torch'})},
             'torch._utils': {'_rebuild_tensor_v2': _rebuild_tensor_v2},
             'torch.storage': {'_load_from_bytes': _load_from_bytes}}
  install_fake_modules(monkeypatch, modules, {_rebuild_tensor_v2: 'torch._utils', _load_from_bytes: 'torch.storage'})


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


def test_reads_mmaction_dump_with_torch_tensors(tmp_path, fake_torch, streams):
  # MMAction2 1.x `tools/test.py --dump`: mmengine pickles (protocol 2) data-sample dicts of torch tensors.
  entries = [{'pred_score': _Tensor(np.asarray(s, np.float32)), 'pred_label': _Tensor(np.array([np.argmax(s)])),
              'gt_label': _Tensor(np.array([y])), 'num_classes': 6} for s, y in zip(JOINT, LABELS)]
  dump = tmp_path / 'mmaction_joint.pkl'
  dump.write_bytes(pickle.dumps(entries, protocol=2))
  scores, labels = fuse.load_results(dump)
  np.testing.assert_array_equal(scores, np.asarray(JOINT, np.float32).astype(np.float64))
  np.testing.assert_array_equal(labels, LABELS)
  # Mixed with a numpy result file of the other stream: the same fused report as two numpy files.
  assert fuse.fuse_files([str(dump), streams[1]], [1, 1]) == fuse.fuse_files(list(streams), [1, 1])


def test_reads_mmaction_1_0_dump_with_nested_label_data(tmp_path, fake_torch, streams):
  # MMAction2 1.0 / 1.1 ActionDataSample.to_dict(): pred_scores / gt_labels are LabelData dicts with 'item'.
  entries = [{'pred_scores': {'item': _Tensor(np.asarray(s, np.float32))},
              'pred_labels': {'item': _Tensor(np.array([np.argmax(s)]))},
              'gt_labels': {'item': _Tensor(np.array([y]))}} for s, y in zip(JOINT, LABELS)]
  dump = tmp_path / 'mmaction_1_0_joint.pkl'
  dump.write_bytes(pickle.dumps(entries, protocol=2))
  scores, labels = fuse.load_results(dump)
  np.testing.assert_array_equal(scores, np.asarray(JOINT, np.float32).astype(np.float64))
  np.testing.assert_array_equal(labels, LABELS)


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
