"""Skeleton graphs: joint layouts and partition strategies -> adjacency `[K, V, V]` (plain numpy).

Convention (same as MMAction2 / PySKL): ``out[..., w] = sum_v x[..., v] * A[k, v, w]``, so column ``w`` of
``A[k]`` lists the joints aggregated into joint ``w``. Normalisation divides each column by its sum.

Layouts (both MMAction2 editions where they differ, because a checkpoint only matches the graph it was
trained with):

- ``nturgb+d``  NTU-25, MMAction2 1.x / PySKL (hand tip and thumb both attach to the hand);
- ``ntu-rgb+d`` NTU-25, MMAction2 0.x / original ST-GCN and 2s-AGCN (tip -> thumb -> hand);
- ``coco``      COCO-17, MMAction2 1.x / PySKL (16-edge tree);
- ``coco-0x``   COCO-17, MMAction2 0.x (19 edges with cycles; called ``coco`` there);
- ``openpose``  OpenPose-18 (``openpose-18`` in 0.x);
- ``nw-ucla``   NW-UCLA, 20 Kinect v1 joints (CTR-GCN's graph);
- a dict ``{'num_node': V, 'inward': [(child, parent), ...], 'center': c}`` for any other skeleton.

Strategies:

- ``uniform``, ``distance``: 0.x ST-GCN strategies;
- ``stgcn_spatial`` (1.x name; ``spatial`` in 0.x): ST-GCN's spatial-configuration partition, K = 3, with
  the original capped-hop quirk reproduced on purpose (joints farther than ``max_hop`` from the centre
  have distance +inf, and inf >= inf puts almost every neighbour in subset 1);
- ``spatial`` (1.x name; ``agcn`` in 0.x): identity, inward-normalised, outward-normalised, as used by
  2s-AGCN / AAGCN;
- ``binary_adj``: unnormalised symmetric adjacency without self links, K = 1 (MMAction2 / PySKL; MS-G3D's base).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

# 0-based (child, parent) pairs.
_NTU_BODY = [(0, 1), (1, 20), (2, 20), (3, 2), (4, 20), (5, 4), (6, 5), (7, 6), (8, 20), (9, 8), (10, 9),
             (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0), (17, 16), (18, 17), (19, 18)]


@dataclasses.dataclass(frozen=True)
class Layout:
  """A skeleton: number of joints, inward (child, parent) edges, centre joint."""
  name: str
  num_node: int
  inward: tuple[tuple[int, int], ...]
  center: int

  @property
  def outward(self) -> tuple[tuple[int, int], ...]:
    return tuple((j, i) for i, j in self.inward)


LAYOUTS: dict[str, Layout] = {
    'nturgb+d': Layout('nturgb+d', 25, tuple(_NTU_BODY + [(21, 7), (22, 7), (23, 11), (24, 11)]), 20),
    'ntu-rgb+d': Layout('ntu-rgb+d', 25, tuple(_NTU_BODY + [(21, 22), (22, 7), (23, 24), (24, 11)]), 20),
    'coco': Layout('coco', 17, ((15, 13), (13, 11), (16, 14), (14, 12), (11, 5), (12, 6), (9, 7), (7, 5),
                                (10, 8), (8, 6), (5, 0), (6, 0), (1, 0), (3, 1), (2, 0), (4, 2)), 0),
    'coco-0x': Layout('coco-0x', 17, ((15, 13), (13, 11), (16, 14), (14, 12), (11, 12), (5, 11), (6, 12),
                                      (5, 6), (7, 5), (8, 6), (9, 7), (10, 8), (1, 2), (1, 0), (2, 0), (3, 1),
                                      (4, 2), (3, 5), (4, 6)), 0),
    'openpose': Layout('openpose', 18, ((4, 3), (3, 2), (7, 6), (6, 5), (13, 12), (12, 11), (10, 9), (9, 8),
                                        (11, 5), (8, 2), (5, 1), (2, 1), (0, 1), (15, 0), (14, 0), (17, 15),
                                        (16, 14)), 1),
    # Kinect v1: 0 hip centre, 1 spine, 2 shoulder centre, 3 head, 4-7 left arm, 8-11 right arm,
    # 12-15 left leg, 16-19 right leg. Edges as in CTR-GCN's NW-UCLA graph; centre = shoulder centre,
    # the counterpart of NTU's spine-shoulder centre.
    'nw-ucla': Layout('nw-ucla', 20, ((0, 1), (1, 2), (3, 2), (4, 2), (5, 4), (6, 5), (7, 6), (8, 2), (9, 8),
                                      (10, 9), (11, 10), (12, 0), (13, 12), (14, 13), (15, 14), (16, 0),
                                      (17, 16), (18, 17), (19, 18)), 2),
}
_ALIASES = {'openpose-18': 'openpose', 'ntu_rgbd': 'nturgb+d', 'nwucla': 'nw-ucla'}

STRATEGIES = ('uniform', 'distance', 'stgcn_spatial', 'spatial', 'binary_adj')
_STRATEGY_ALIASES = {'agcn': 'spatial'}


def get_layout(layout: str | Mapping | Layout) -> Layout:
  """Resolves a layout name, a custom ``{'num_node', 'inward', 'center'}`` dict, or a Layout."""
  if isinstance(layout, Layout):
    return layout
  if isinstance(layout, Mapping):
    missing = {'num_node', 'inward', 'center'} - set(layout)
    if missing:
      raise ValueError(f'custom layout needs keys num_node, inward, center; missing {sorted(missing)}')
    num_node = int(layout['num_node'])
    inward = tuple((int(i), int(j)) for i, j in layout['inward'])
    bad = [e for e in inward if not (0 <= e[0] < num_node and 0 <= e[1] < num_node)]
    if bad:
      raise ValueError(f'custom layout: edges {bad} reference joints outside [0, {num_node})')
    center = int(layout['center'])
    if not 0 <= center < num_node:
      raise ValueError(f'custom layout: center {center} outside [0, {num_node})')
    return Layout(str(layout.get('name', 'custom')), num_node, inward, center)
  name = _ALIASES.get(layout, layout)
  if name not in LAYOUTS:
    raise ValueError(f'unknown layout {layout!r}; known: {sorted(LAYOUTS)} or a custom dict')
  return LAYOUTS[name]


def edge2mat(edges: Sequence[tuple[int, int]], num_node: int) -> np.ndarray:
  """M[j, i] = 1 for each pair (i, j): joint i is aggregated into joint j."""
  mat = np.zeros((num_node, num_node))
  for i, j in edges:
    mat[j, i] = 1
  return mat


def normalize_digraph(adjacency: np.ndarray) -> np.ndarray:
  """A @ diag(1 / column sums); columns summing to zero stay zero."""
  col_sum = adjacency.sum(0)
  inv = np.zeros_like(col_sum)
  nonzero = col_sum > 0
  inv[nonzero] = 1.0 / col_sum[nonzero]
  return adjacency @ np.diag(inv)


def hop_distance(num_node: int, edges: Sequence[tuple[int, int]], max_hop: int = 1) -> np.ndarray:
  """Shortest-path length in the undirected graph, +inf beyond ``max_hop`` (as in the reference)."""
  adjacency = np.eye(num_node)
  for i, j in edges:
    adjacency[i, j] = adjacency[j, i] = 1
  hop = np.full((num_node, num_node), np.inf)
  reach = np.stack([np.linalg.matrix_power(adjacency, d) for d in range(max_hop + 1)]) > 0
  for d in range(max_hop, -1, -1):
    hop[reach[d]] = d
  return hop


def _stgcn_spatial(layout: Layout, hop: np.ndarray, max_hop: int, dilation: int) -> np.ndarray:
  valid = hop <= max_hop
  norm = normalize_digraph(valid.astype(np.float64))
  center_dist = hop[:, layout.center]
  subsets = []
  for d in range(0, max_hop + 1, dilation):
    at_d = hop == d
    # Target i (column), source j (row): "close" if the source is no nearer the centre than the target.
    close = at_d & (center_dist[:, None] >= center_dist[None, :])
    further = at_d & ~close
    subsets.append(np.where(close, norm, 0.0))
    if d > 0:
      subsets.append(np.where(further, norm, 0.0))
  return np.stack(subsets)


def build_adjacency(layout: str | Mapping | Layout, strategy: str, max_hop: int = 1,
                    dilation: int = 1) -> np.ndarray:
  """Adjacency `[K, V, V]` (float32) for a layout and a partition strategy."""
  lay = get_layout(layout)
  strategy = _STRATEGY_ALIASES.get(strategy, strategy)
  num_node = lay.num_node
  if strategy == 'spatial':
    mats = [np.eye(num_node), normalize_digraph(edge2mat(lay.inward, num_node)),
            normalize_digraph(edge2mat(lay.outward, num_node))]
    return np.stack(mats).astype(np.float32)
  if strategy == 'binary_adj':
    return edge2mat(lay.inward + lay.outward, num_node).astype(np.float32)[None]
  hop = hop_distance(num_node, lay.inward, max_hop)
  valid_hops = range(0, max_hop + 1, dilation)
  valid = np.isin(hop, list(valid_hops))
  norm = normalize_digraph(valid.astype(np.float64))
  if strategy == 'uniform':
    return norm[None].astype(np.float32)
  if strategy == 'distance':
    return np.stack([np.where(hop == d, norm, 0.0) for d in valid_hops]).astype(np.float32)
  if strategy == 'stgcn_spatial':
    return _stgcn_spatial(lay, hop, max_hop, dilation).astype(np.float32)
  raise ValueError(f'unknown graph strategy {strategy!r}; known: {STRATEGIES} (alias agcn -> spatial)')


@dataclasses.dataclass(frozen=True)
class Graph:
  """A layout with a partition strategy; ``Graph('nturgb+d', 'stgcn_spatial').adjacency`` is `[3, 25, 25]`."""
  layout: str | Mapping | Layout = 'nturgb+d'
  strategy: str = 'stgcn_spatial'
  max_hop: int = 1
  dilation: int = 1

  @property
  def num_node(self) -> int:
    return get_layout(self.layout).num_node

  @property
  def adjacency(self) -> np.ndarray:
    return build_adjacency(self.layout, self.strategy, self.max_hop, self.dilation)
