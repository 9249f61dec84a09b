"""MS-G3D's model block for ``msg3d_ntu60/120.py`` and ``msg3d_nwucla.py`` (not a config itself).

MMAction2 ``projects/msg3d`` (``msg3d_8xb16-joint-u100-80e_ntu60-xsub-keypoint-{2d,3d}.py``) trains MS-G3D with
the 1.x ST-GCN recipe unchanged, and PySKL's ``msg3d_pyskl_*`` configs (the other benchmarks and streams) are
the same recipe, so the configs take ``configs/_gcn_zoo.py``'s NTU and NW-UCLA recipes with this model block.
"""

from __future__ import annotations

import ml_collections

from configs import _zoo


def msg3d_model(*, num_classes: int, layout: str, num_person: int) -> ml_collections.ConfigDict:
  """MMAction2 ``MSG3D`` (96 base channels, 13 GCN / 6 G3D scales) on the ``binary_adj`` graph, ``GCNHead(384)``."""
  return _zoo.gcn_model('msg3d', num_classes=num_classes, layout=layout, strategy='binary_adj',
                        num_person=num_person)
