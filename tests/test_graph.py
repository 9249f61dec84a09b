"""Graph layouts and partition strategies against the reference's numbers."""

import numpy as np
import pytest

from skeljax.models.gcn import graph


@pytest.mark.parametrize('layout, counts', [
    ('nturgb+d', [25, 40, 8]), ('ntu-rgb+d', [25, 40, 8]), ('coco', [17, 22, 10]),
    ('coco-0x', [17, 34, 4]), ('openpose', [18, 25, 9]),
])
def test_stgcn_spatial_nonzero_counts_match_reference(layout, counts):
  adjacency = graph.build_adjacency(layout, 'stgcn_spatial')
  assert [int((a != 0).sum()) for a in adjacency] == counts
  np.testing.assert_allclose(adjacency.sum(axis=(0, 1)), 1.0, rtol=1e-6)  # every column is a mean


def test_ntu_editions_differ_only_in_hand_edges():
  a1 = graph.build_adjacency('nturgb+d', 'spatial')
  a0 = graph.build_adjacency('ntu-rgb+d', 'spatial')
  assert a1.shape == a0.shape == (3, 25, 25)
  differing = np.argwhere(np.any(a1 != a0, axis=(0, 1)))
  assert set(differing.ravel()) <= {7, 11, 21, 22, 23, 24}
  # 1.x: the thumb (22) receives the hand (7); 0.x: the thumb receives the hand-tip's parent chain.
  assert a1[1, 7, 22] == 1 and a0[1, 7, 22] == 1 and a1[1, 7, 21] == 1 and a0[1, 22, 21] == 1


def test_spatial_is_identity_inward_outward():
  adjacency = graph.build_adjacency('coco', 'spatial')
  np.testing.assert_array_equal(adjacency[0], np.eye(17))
  # Inward: each joint receives its parent with weight 1; the centre receives nothing.
  assert adjacency[1][:, 0].sum() == 0
  assert adjacency[1][13, 15] == 1  # ankle 15 -> knee 13 is inward, so 15 aggregates 13
  # Outward: columns with children are means; leaves (eyes' children: ears) empty.
  np.testing.assert_allclose(adjacency[2][:, 0].sum(), 1.0)
  assert adjacency[2][:, 15].sum() == 0
  assert np.array_equal(graph.build_adjacency('coco', 'agcn'), adjacency)


def test_uniform_and_distance():
  uni = graph.build_adjacency('openpose', 'uniform')
  dist = graph.build_adjacency('openpose', 'distance')
  assert uni.shape == (1, 18, 18) and dist.shape == (2, 18, 18)
  np.testing.assert_allclose(dist.sum(0), uni[0])
  np.testing.assert_allclose(np.diag(dist[0]), np.diag(uni[0]))


def test_hop_distance_is_capped_with_inf():
  hop = graph.hop_distance(3, [(0, 1), (1, 2)], max_hop=1)
  assert hop[0, 2] == np.inf and hop[0, 1] == 1 and hop[1, 1] == 0


def test_custom_layout_dict():
  custom = {'num_node': 4, 'inward': [(1, 0), (2, 1), (3, 1)], 'center': 0}
  adjacency = graph.Graph(custom, 'stgcn_spatial').adjacency
  assert adjacency.shape == (3, 4, 4)
  np.testing.assert_allclose(adjacency.sum(axis=(0, 1)), 1.0, rtol=1e-6)
  with pytest.raises(ValueError, match='outside'):
    graph.get_layout({'num_node': 2, 'inward': [(0, 5)], 'center': 0})
  with pytest.raises(ValueError, match='unknown layout'):
    graph.get_layout('kinect-42')
  with pytest.raises(ValueError, match='unknown graph strategy'):
    graph.build_adjacency('coco', 'nope')
