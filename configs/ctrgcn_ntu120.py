r"""CTR-GCN on NTU RGB+D 120 (PySKL's ``ctrgcn`` recipe = MMAction2's 1.x GCN recipe; MMAction2 has no NTU120
CTR-GCN config). Variants ``:<xsub|xset>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic``.

  python -m data_builders.build ntu120/xsub_3d --manual_dir=<dir with ntu120_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/ctrgcn_ntu120.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/ctrgcn_ntu120.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1

Expected top-1 (PySKL README, 10-clip test), joint / bone / joint-motion / bone-motion (2-stream, 4-stream):
xsub 3D 84.0 / 85.9 / 81.1 / 82.2 (87.5, 88.1), 2D 82.2 / 84.6 / 82.3 / 82.1 (85.8, 86.6); xset 3D 85.9 /
87.4 / 84.1 / 83.9 (89.2, 89.9), 2D 84.5 / 88.6 / 85.6 / 85.6 (89.0, 90.1).
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_gcn_zoo.ctrgcn_model, num_classes=120, family='CTR-GCN')
