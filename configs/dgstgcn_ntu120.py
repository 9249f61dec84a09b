r"""DG-STGCN on NTU RGB+D 120, 3D skeletons. Variants ``:<xsub|xset>,<joint|bone|jm|bm>``, ``:synthetic``.

  python -m data_builders.build ntu120/xsub_3d --manual_dir=<dir with ntu120_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/dgstgcn_ntu120.py:xset,bone --workdir=$WD \
      --config.dataset.data_dir=$DATA

Recipe: PySKL ``configs/dgstgcn/ntu120_{xsub,xset}_3dkp/*.py`` (configs/_dgstgcn.py). Expected top-1 (PySKL,
10-clip test), joint / bone / joint-motion / bone-motion (2-stream, 4-stream): xsub 85.7 / 88.0 / 82.9 / 83.2
(89.3, 89.6); xset 87.9 / 89.8 / 85.8 / 85.7 (91.2, 91.3). Fuse with ``python -m skeljax.tools.fuse
--results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1``.
"""

from configs import _dgstgcn


def get_config(arg=None):
  return _dgstgcn.ntu_config(arg, num_classes=120)
