r"""CTR-GCN on NTU RGB+D 60 (MMAction2 ``projects/ctrgcn`` recipe = ST-GCN's 1.x recipe; PySKL's ``ctrgcn``
configs are the same). Variants ``:<xsub|xview>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic``.

  python -m data_builders.build ntu60/xsub_3d --manual_dir=<dir with ntu60_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/ctrgcn_ntu60.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/ctrgcn_ntu60.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1

Model: MMAction2 ``projects/ctrgcn`` ``CTRGCN`` (channel-wise topology refinement, CTR-GCN's multi-scale
temporal unit) on the ``spatial`` graph, 1,446,672 parameters (60 classes); MMAction2 (``cls_head.fc``) and
PySKL (``cls_head.fc_cls``) checkpoints load with ``python -m skeljax.tools.convert_mmaction``.
Expected top-1 (10-clip test): MMAction2 projects/ctrgcn xsub joint 3D 89.0, 2D 89.6. PySKL README, joint /
bone / joint-motion / bone-motion (2-stream, 4-stream): xsub 3D 89.6 / 90.0 / 88.0 / 87.5 (91.5, 92.1), 2D
90.6 / 92.7 / 89.4 / 90.3 (93.3, 93.6); xview 3D 95.6 / 95.4 / 94.4 / 93.6 (96.6, 97.0), 2D 96.9 / 97.6 /
94.8 / 95.6 (98.4, 98.4). Fusion weights: 1 1 (joint, bone), 2 2 1 1 (four streams).
Synthetic: a few steps on synthetic_skeleton, no accuracy target.
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_gcn_zoo.ctrgcn_model, num_classes=60, family='CTR-GCN')
