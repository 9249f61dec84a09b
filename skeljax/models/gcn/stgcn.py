"""ST-GCN (Yan et al. 2018) as in MMAction2 1.x ``STGCN`` + ``GCNHead`` and 0.x ``STGCN`` + ``STGCNHead``.

Both editions compute the same function; they differ in the default graph (the NTU / COCO edge lists
changed), the head's parameter layout, and init: 0.x Kaiming-inits every conv, 1.x leaves the graph conv
at PyTorch's default. ``edition`` picks all three; a checkpoint only matches the graph it was trained with.
"""

from __future__ import annotations

from collections.abc import Mapping

from flax import nnx

from skeljax.models.gcn.backbone import GCNBackbone
from skeljax.models.gcn.head import GCNHead
from skeljax.models.gcn.recognizer import GCNRecognizer, build_graph, check_edition
from skeljax.models.gcn.units.graph_conv import GraphConv

DEFAULT_GRAPHS = {
    '1.x': {'layout': 'nturgb+d', 'strategy': 'stgcn_spatial'},
    '0.x': {'layout': 'ntu-rgb+d', 'strategy': 'stgcn_spatial'},
}


class STGCNRecognizer(GCNRecognizer):
  """ST-GCN recognizer: ``x [N, clips, M, T, V, C] -> [N, clips, num_classes]``."""

  def __init__(self, *, num_classes: int, in_channels: int = 3, graph_cfg: Mapping | None = None,
               num_person: int = 2, data_bn_type: str | None = 'VC', edge_importance: bool = True,
               tcn_dropout: float = 0.0, head_dropout: float = 0.0, head: str | None = None,
               edition: str = '1.x', rngs: nnx.Rngs):
    self.edition = check_edition(edition)
    adjacency = build_graph(graph_cfg, DEFAULT_GRAPHS[edition])
    gcn_init = 'kaiming' if edition == '0.x' else 'torch'

    def gcn_unit(c_in, c_out, a, unit_rngs):
      return GraphConv(c_in, c_out, a, edge_importance=edge_importance, init=gcn_init, rngs=unit_rngs)

    self.backbone = GCNBackbone(adjacency, gcn_unit, in_channels=in_channels, num_person=num_person,
                                data_bn_type=data_bn_type, tcn_dropout=tcn_dropout, conv_init='kaiming',
                                rngs=rngs)
    head = head or ('stgcn0x' if edition == '0.x' else 'gcn')
    self.cls_head = GCNHead(self.backbone.out_channels, num_classes, dropout=head_dropout, head_type=head,
                            rngs=rngs)
