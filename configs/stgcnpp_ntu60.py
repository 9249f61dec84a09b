r"""ST-GCN++ on NTU RGB+D 60 (MMAction2 1.x ``stgcnpp`` recipe = ST-GCN's 1.x recipe). Variants
``:<xsub|xview>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic`` (smoke run on synthetic_skeleton).

  python -m data_builders.build ntu60/xsub_3d --manual_dir=<dir with ntu60_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcnpp_ntu60.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/stgcnpp_ntu60.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1

Model: MMAction2 ``STGCN(gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn')`` on the ``spatial`` graph,
1,403,144 parameters (60 classes). MMAction2 checkpoints load with ``python -m skeljax.tools.convert_mmaction``.
Expected top-1 (10-clip test), xsub, joint / bone / joint-motion / bone-motion (2-stream, 4-stream):
MMAction2 1.x model zoo 3D 89.14 / 90.21 / 86.67 / 87.45 (91.39, 91.87); 2D 89.29 / 92.30 / 87.30 / 88.76
(92.61, 92.77). PySKL README (same recipe): xsub 3D 89.3 / 90.1 / 87.5 / 87.3 (91.4, 92.1), 2D 89.3 / 92.3 /
84.0 / 88.8 (92.8, 93.2); xview 3D 95.6 / 95.5 / 94.3 / 93.8 (96.7, 97.0), 2D 97.4 / 97.2 / 93.4 / 95.4
(98.4, 98.5). Fusion weights: 1 1 (joint, bone), 2 2 1 1 (four streams).
Synthetic: a few steps on synthetic_skeleton, no accuracy target.
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_gcn_zoo.stgcnpp_model, num_classes=60, family='ST-GCN++')
