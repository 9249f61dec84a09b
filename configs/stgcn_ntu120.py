r"""ST-GCN on NTU RGB+D 120 (MMAction2 1.x recipe). Variants ``:<xsub|xset>,<joint|bone|jm|bm>,<2d|3d>``,
``:synthetic``.

  python -m data_builders.build ntu120/xsub_3d --manual_dir=<dir with ntu120_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_ntu120.py:xsub,bone,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA

Expected top-1 (10-clip test, MMAction2 1.x model zoo), xsub, joint / bone / joint-motion / bone-motion:
2D 83.19 / 83.36 / 78.87 / 79.55 (2-stream 84.84, 4-stream 85.23); 3D 82.15 / 84.28 / 78.93 / 80.02
(2-stream 85.68, 4-stream 86.19). xset (PySKL README, same recipe): 3D 84.5 / 85.8 / 82.7 / 83.0
(2-stream 87.5, 4-stream 88.4); 2D 84.2 / 87.7 / 82.5 / 83.5 (2-stream 88.3, 4-stream 89.0).
"""

from configs import _gcn_ntu


def get_config(arg=None):
  return _gcn_ntu.ntu_config(arg, model='stgcn', num_classes=120)
