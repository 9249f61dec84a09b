r"""2s-AGCN on NTU RGB+D 60. Variants ``:<xsub|xview>,<joint|bone|jm|bm>,<2d|3d>`` (1.x recipe: AAGCN unit
without attention, data BN over M*V*C), ``:0x,joint`` / ``:0x,bone`` (MMAction2 0.x AGCN, 3D), ``:synthetic``.

  python -m skeljax.main --config=configs/agcn_ntu60.py:xsub,bone,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA

Expected top-1 (10-clip test, MMAction2 1.x model zoo), xsub, joint / bone / joint-motion / bone-motion:
2D 88.60 / 91.59 / 88.02 / 88.82 (2-stream 91.95, 4-stream 92.34); 3D 88.26 / 89.22 / 86.73 / 86.41
(2-stream 90.27, 4-stream 90.89). 0.x seed recipe (3D, batch 24, step [30, 40], 80 epochs): joint 86.06,
bone 86.89, on ntu60/xsub_3d_0x (MMAction2 0.x ``gen_ntu_rgbd_raw.py`` data: top-2 energy bodies,
pre-normalised), built by ``python -m data_builders.build ntu60/xsub_3d_0x --manual_dir=<dir with
nturgb+d_skeletons/> --data_dir=$DATA``. xview (PySKL AAGCN, same recipe): 3D 95.7 / 95.2 / 93.9 /
92.4 (4-stream 96.7); 2D 97.1 / 96.8 / 95.5 / 95.9 (4-stream 98.2).
"""

from configs import _gcn_ntu


def get_config(arg=None):
  return _gcn_ntu.ntu_config(arg, model='agcn', num_classes=60)
