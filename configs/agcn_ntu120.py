r"""2s-AGCN (1.x AAGCN, no attention) on NTU RGB+D 120. Variants ``:<xsub|xset>,<joint|bone|jm|bm>,<2d|3d>``,
``:synthetic``.

  python -m skeljax.main --config=configs/agcn_ntu120.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA

Expected top-1: MMAction2 1.x publishes no NTU120 2s-AGCN row; PySKL's AAGCN (same recipe) reports,
joint / bone / joint-motion / bone-motion (2-stream, 4-stream): xsub 3D 82.8 / 84.7 / 80.0 / 80.2 (86.3,
86.9), xsub 2D 80.2 / 84.2 / 80.9 / 81.1 (84.7, 85.5), xset 3D 84.8 / 86.2 / 82.0 / 82.8 (88.1, 88.8),
xset 2D 86.3 / 88.2 / 85.1 / 85.1 (89.1, 89.9).
"""

from configs import _gcn_ntu


def get_config(arg=None):
  return _gcn_ntu.ntu_config(arg, model='agcn', num_classes=120)
