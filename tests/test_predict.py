"""``python -m skeljax.predict`` on real skeleton files: raw NTU ``.skeleton``, annotation pickle, Kinetics JSON.

The model has random weights (no trained NTU model is available here), so the tests check the plumbing that
matters: the export artefact and the checkpoint give the same probabilities, a raw file and the same clip
as an annotation pickle give the same answer, names come from the NTU label map, and bad inputs fail clearly.
"""

import pickle
import re

import numpy as np
import pytest
from flax import nnx

from configs import stgcn_ntu60
from skeljax import export, predict
from skeljax.checkpoint import convert
from skeljax.data import ntu_raw
from skeljax.models import create_model

A001 = 'ntu_raw/S001C001P001R001A001.skeleton'  # action 1, "drink water"


@pytest.fixture(scope='module')
def trained(tmp_path_factory):
  """(config, workdir with a checkpoint, export folder) of a small NTU60 ST-GCN (2 test clips of 16 frames)."""
  cfg = stgcn_ntu60.get_config('synthetic')
  cfg.model.num_classes = cfg.dataset.num_classes = 60
  cfg.label_names = 'ntu60'
  workdir = tmp_path_factory.mktemp('predict')
  model = nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(3)))()
  convert.save_converted(model, workdir, {'source': 'test'})
  return cfg, workdir, export.export_model(cfg, workdir)


def _printed(out):
  rows = re.findall(r'^\s+(\d)\. (.+?)\s+([01]\.\d{4})\s+\(class (\d+)\)$', out, flags=re.M)
  return [(int(r), name, float(p), int(c)) for r, name, p, c in rows]


def test_predict_raw_ntu_file(trained, sample_data, capsys):
  cfg, workdir, export_dir = trained
  path = str(sample_data.path(A001))
  assert predict.run(str(export_dir), path) == 0
  out = capsys.readouterr().out
  assert 'ground truth: A001 drink water' in out
  rows = _printed(out)
  assert [r[0] for r in rows] == [1, 2, 3, 4, 5]
  probs = [r[2] for r in rows]
  assert probs == sorted(probs, reverse=True) and sum(probs) <= 1.0 + 1e-3
  from skeljax.label_maps import NTU60_NAMES  # pylint: disable=import-outside-toplevel
  assert all(NTU60_NAMES[c] == name for _, name, _, c in rows)

  # The same clip through the checkpoint (NNX model, no artefact) gives the same probabilities.
  record = ntu_raw.to_record(ntu_raw.parse_skeleton_file(path), '3d')
  from_export = predict.Predictor(export_dir).probabilities(record)
  from_checkpoint = predict.Predictor(workdir, cfg).probabilities(record)
  np.testing.assert_allclose(from_export, from_checkpoint, atol=1e-5)
  np.testing.assert_allclose(from_export.sum(), 1.0, atol=1e-5)
  top = np.argsort(-from_export)[:5]
  assert [r[3] for r in rows] == top.tolist()


def test_predict_annotation_pickle_matches_raw(trained, sample_data, tmp_path, capsys):
  _, _, export_dir = trained
  path = sample_data.path(A001)
  record = ntu_raw.to_record(ntu_raw.parse_skeleton_file(path), '3d')
  other = dict(record, frame_dir='other', keypoint=record['keypoint'][:, ::-1].copy())
  ann = tmp_path / 'ann.pkl'
  with ann.open('wb') as f:
    pickle.dump([other, record], f)
  assert predict.run(str(export_dir), str(path)) == 0
  from_raw = _printed(capsys.readouterr().out)
  assert predict.run(str(export_dir), str(ann), index=1) == 0
  out = capsys.readouterr().out
  assert 'S001C001P001R001A001' in out and _printed(out) == from_raw
  assert predict.run(str(export_dir), str(ann), index=2) == 1
  assert 'has 2 records' in capsys.readouterr().err


def test_predict_rejects_mismatched_skeletons(trained, sample_data, capsys):
  """A 17-joint COCO clip (PoseC3D UCF101 pickle) or an 18-joint Kinetics JSON does not fit an NTU-25 model."""
  _, _, export_dir = trained
  ucf = sample_data.path('paddlevideo_examples/example_UCF101_skeleton.pkl')
  assert predict.run(str(export_dir), str(ucf)) == 1
  err = capsys.readouterr().err
  assert 'example_UCF101_skeleton.pkl' in err and 'expects V = 25 joints' in err
  kinetics = sample_data.path('kinetics_json_hluong89/--33Lscn6sk.json')
  assert predict.run(str(export_dir), str(kinetics)) == 1
  assert 'expects V = 25 joints' in capsys.readouterr().err
  assert predict.run(str(export_dir), str(ucf.with_suffix('.txt'))) == 1
  assert 'does not exist' in capsys.readouterr().err


def test_label_maps(tmp_path):
  from skeljax import label_maps  # pylint: disable=import-outside-toplevel
  names = label_maps.get_label_names('ntu120', 120)
  # Spot checks against the NTU RGB+D action list (A001, A060, A061, A120).
  assert (names[0], names[59], names[60], names[119]) == (
      'drink water', 'walking apart from each other', 'put on headphone',
      'finger-guessing game (playing rock-paper-scissors)')
  assert label_maps.get_label_names('ntu60') == names[:60]
  assert label_maps.get_label_names(None, 3) == ['class_0', 'class_1', 'class_2']
  path = tmp_path / 'gym.txt'
  path.write_text('vault.\n\nbeam jump\n')
  assert label_maps.get_label_names(str(path), 2) == ['vault', 'beam jump']
  with pytest.raises(ValueError, match='has 2 class names but the model has 99'):
    label_maps.get_label_names(str(path), 99)
  with pytest.raises(FileNotFoundError, match='missing.txt'):
    label_maps.get_label_names(str(tmp_path / 'missing.txt'))


def test_predict_kinetics_json_with_a_coco17_model(sample_data, tmp_path, capsys):
  """An OpenPose-18 Kinetics-skeleton clip runs through a COCO-17 2D model, reordered to COCO-17."""
  from skeljax.data import kinetics_json, openpose_json  # pylint: disable=g-import-not-at-top
  cfg = stgcn_ntu60.get_config('synthetic,2d')
  model = nnx.jit(lambda: create_model(cfg.model, nnx.Rngs(5)))()
  convert.save_converted(model, tmp_path, {'source': 'test'})
  path = sample_data.path('kinetics_json_hluong89/--33Lscn6sk.json')
  assert predict.run(str(tmp_path), str(path), cfg=cfg) == 0
  printed = _printed(capsys.readouterr().out)
  assert [r[0] for r in printed] == [1, 2, 3, 4, 5]
  # The COCO-17 clip is the OpenPose-18 one with joints picked by name: e.g. COCO 5 (left shoulder) is OP 5,
  # COCO 6 (right shoulder) is OP 2, COCO 1 (left eye) is OP 15; the neck (OP 1) is gone.
  raw = kinetics_json.load_kinetics_json(path)
  coco = openpose_json.openpose18_to_coco17(raw)
  assert coco['keypoint'].shape[2] == 17
  for coco_joint, op_joint in [(0, 0), (1, 15), (2, 14), (5, 5), (6, 2), (9, 7), (10, 4), (15, 13), (16, 10)]:
    np.testing.assert_array_equal(coco['keypoint'][:, :, coco_joint], raw['keypoint'][:, :, op_joint])
    np.testing.assert_array_equal(coco['keypoint_score'][:, :, coco_joint], raw['keypoint_score'][:, :, op_joint])
  probs = predict.Predictor(tmp_path, cfg).probabilities(coco)
  assert [round(float(probs[c]), 4) for _, _, _, c in printed] == [r[2] for r in printed]
