r"""ST-GCN on NTU RGB+D 60. Variants ``:<xsub|xview>,<joint|bone|jm|bm>,<2d|3d>`` (1.x recipe), ``:0x,2d`` /
``:0x,3d`` (MMAction2 0.x seed recipe, xsub joint), ``:synthetic`` (smoke run on synthetic_skeleton).

  python -m data_builders.build ntu60/xsub_3d --manual_dir=<dir with ntu60_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_ntu60.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_ntu60.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl

Expected top-1 (10-clip test, MMAction2 1.x model zoo), xsub, joint / bone / joint-motion / bone-motion:
2D 88.95 / 91.69 / 86.90 / 87.86 (2-stream 92.12, 4-stream 92.34); 3D 88.11 / 88.76 / 86.06 / 85.49
(2-stream 90.14, 4-stream 90.39). Fuse streams with ``python -m skeljax.tools.fuse --results j.pkl b.pkl
--coefficients 1 1`` (4 streams: 2 2 1 1). xview (PySKL README, same recipe): 3D 95.5 / 95.0 / 93.7 / 92.8
(4-stream 96.5); 2D 98.0 / 96.5 / 95.6 / 95.4 (4-stream 98.3).
0.x seed recipe: 2D (HRNet, ``coco-0x`` graph, ntu60/xsub_2d) 86.91, 3D (``ntu-rgb+d`` graph) 84.61 on
ntu60/xsub_3d_0x, the data MMAction2 0.x's ``gen_ntu_rgbd_raw.py`` made (top-2 energy bodies, pre-normalised):
  python -m data_builders.build ntu60/xsub_3d_0x --manual_dir=<dir with nturgb+d_skeletons/> --data_dir=$DATA
Synthetic: a few steps on synthetic_skeleton, no accuracy target.
"""

from configs import _gcn_ntu


def get_config(arg=None):
  return _gcn_ntu.ntu_config(arg, model='stgcn', num_classes=60)
