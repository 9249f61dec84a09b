"""ST-GCN++ and CTR-GCN ``synthetic`` configs through the real engine, and four-stream fusion of their results.

Each family trains two steps on slices of the built embedded dataset and validates. The networks are cut to one
block of 8 channels with the families' own stage arguments: the wiring is the point here; the full networks are
covered by the parity tests. Slow tier:
an ST-GCN++ checkpoint tested (2-clip test pipeline) on the joint, bone, joint-motion and bone-motion variants,
and the four result files fused 2:2:1:1 with ``skeljax.tools.fuse``, as the configs' docstrings say.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine_runs import train_two_steps, two_step_config
from skeljax import evaluate
from skeljax.tools import fuse

TINY = dict(base_channels=8, num_stages=1)


@pytest.fixture(scope='module')
def data_dir(tmp_path_factory):
  from data_builders import build  # pylint: disable=g-import-not-at-top
  path = tmp_path_factory.mktemp('tfds')
  build.build('synthetic_skeleton/ntu25_3d', data_dir=path, max_examples_per_split=8)
  return path


def _config(name, arg, data_dir):
  return two_step_config(name, arg, data_dir, **TINY)


@pytest.mark.parametrize('name', ['stgcnpp_ntu60', 'ctrgcn_ntu60'])
def test_synthetic_variant_trains_and_validates(name, data_dir, tmp_path):
  train_two_steps(_config(name, 'synthetic', data_dir), tmp_path)


@pytest.mark.slow
def test_four_stream_fusion_of_synthetic_results(data_dir, tmp_path):
  """joint / bone / joint-motion / bone-motion results of one checkpoint, fused 2:2:1:1 by the fuse tool."""
  name = 'stgcnpp_ntu60'
  train_two_steps(_config(name, 'synthetic', data_dir), tmp_path)
  results = []
  for stream in ('joint', 'bone', 'jm', 'bm'):
    tested = evaluate.evaluate(_config(name, f'synthetic,{stream}', data_dir), tmp_path,
                               out=tmp_path / f'{stream}.pkl')
    assert tested['num_samples'] == 4
    results.append(tmp_path / f'{stream}.pkl')
  loaded = [fuse.load_results(p) for p in results]
  for scores, labels in loaded[1:]:
    np.testing.assert_array_equal(labels, loaded[0][1])  # same samples, same order
    assert not np.allclose(scores, loaded[0][0])  # each variant really feeds its own stream
  report = fuse.fuse_files([str(p) for p in results], [2, 2, 1, 1])
  fused = sum(w * scores for w, (scores, _) in zip((2, 2, 1, 1), loaded))
  assert report['top1'] == pytest.approx(np.mean(fused.argmax(axis=1) == loaded[0][1]))
  assert fuse.main(['--results', *map(str, results), '--coefficients', '2', '2', '1', '1']) == 0
