r"""MS-G3D on NTU RGB+D 120. Variants ``:<xsub|xset>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic``.

  python -m data_builders.build ntu120/xsub_3d --manual_dir=<dir with ntu120_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/msg3d_ntu120.py:xset,bone,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA

Recipe: MMAction2 ``projects/msg3d`` / PySKL ``msg3d_pyskl_ntu120_*`` (configs/_msg3d.py). Expected top-1
(PySKL, 10-clip test), joint / bone / joint-motion / bone-motion (2-stream, 4-stream): xsub 3D 84.0 / 85.3 /
82.2 / 81.5 (86.9, 87.8); xsub 2D 85.5 / 85.0 / 82.6 / 82.9 (86.7, 87.4); xset 3D 86.0 / 87.3 / 82.9 / 83.2
(88.9, 89.6); xset 2D 88.2 / 88.9 / 86.6 / 86.5 (90.0, 90.9). MMAction2 publishes no NTU120 MS-G3D row.
Fuse with ``python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1``.
"""

from configs import _gcn_zoo, _msg3d


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_msg3d.msg3d_model, num_classes=120, family='MS-G3D')
