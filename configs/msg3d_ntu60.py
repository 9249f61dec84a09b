r"""MS-G3D on NTU RGB+D 60. Variants ``:<xsub|xview>,<joint|bone|jm|bm>,<2d|3d>``, ``:synthetic`` (smoke run).

  python -m data_builders.build ntu60/xsub_3d --manual_dir=<dir with ntu60_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/msg3d_ntu60.py:xsub,joint,3d --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/msg3d_ntu60.py:xsub,joint,3d --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.convert_mmaction --config=configs/msg3d_ntu60.py:xsub,joint,3d \
      --checkpoint=msg3d_8xb16-joint-u100-80e_ntu60-xsub-keypoint-3d_20230308-c325d222.pth --workdir=$WD

Recipe: MMAction2 ``projects/msg3d`` (= the 1.x ST-GCN schedule, configs/_msg3d.py). Expected top-1 (10-clip
test): MMAction2 xsub joint 3D 89.6, 2D 92.3. PySKL (same recipe), joint / bone / joint-motion / bone-motion
(2-stream, 4-stream): xsub 3D 89.6 / 89.3 / 87.7 / 86.7 (91.0, 91.7); xsub 2D 92.7 / 92.8 / 89.8 / 90.2
(93.8, 94.1); xview 3D 95.9 / 95.0 / 94.0 / 92.4 (96.4, 96.9); xview 2D 97.1 / 97.1 / 95.9 / 95.1 (97.9,
98.3). Fuse streams with ``python -m skeljax.tools.fuse --results j.pkl b.pkl --coefficients 1 1`` (4
streams: ``--results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1``).
Synthetic: a few steps on synthetic_skeleton, no accuracy target.
"""

from configs import _gcn_zoo, _msg3d


def get_config(arg=None):
  return _gcn_zoo.ntu_config(arg, model_fn=_msg3d.msg3d_model, num_classes=60, family='MS-G3D')
