r"""ST-GCN++ on NTU RGB+D 120 (PySKL's ``stgcn++`` recipe = MMAction2's 1.x GCN recipe; MMAction2 has no NTU120
ST-GCN++ config). Variants ``:<xsub|xset>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic``.

  python -m data_builders.build ntu120/xsub_3d --manual_dir=<dir with ntu120_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcnpp_ntu120.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/stgcnpp_ntu120.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1

Expected top-1 (PySKL README, 10-clip test), joint / bone / joint-motion / bone-motion (2-stream, 4-stream):
xsub 3D 83.2 / 85.6 / 80.4 / 81.5 (87.0, 87.5), 2D 84.4 / 84.8 / 76.4 / 81.1 (86.4, 86.4); xset 3D 85.6 /
87.5 / 84.3 / 83.0 (89.1, 89.8), 2D 88.1 / 88.5 / 82.6 / 84.1 (90.0, 90.3).
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_gcn_zoo.stgcnpp_model, num_classes=120, family='ST-GCN++')
