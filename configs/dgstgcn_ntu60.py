r"""DG-STGCN on NTU RGB+D 60, 3D skeletons. Variants ``:<xsub|xview>,<joint|bone|jm|bm>``, ``:synthetic``.

  python -m data_builders.build ntu60/xsub_3d --manual_dir=<dir with ntu60_3danno.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/dgstgcn_ntu60.py:xsub,joint --workdir=$WD \
      --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/dgstgcn_ntu60.py:xsub,joint --workdir=$WD --mode=eval --out=j.pkl
  python -m skeljax.tools.convert_mmaction --config=configs/dgstgcn_ntu60.py:xsub,joint \
      --checkpoint=j.pth --workdir=$WD   # PySKL's ckpt/dgstgcn/ntu60_xsub_3dkp/j.pth

Recipe: PySKL ``configs/dgstgcn/ntu60_{xsub,xview}_3dkp/*.py`` (configs/_dgstgcn.py): skeletons centred but not
rotated (PySKL ``PreNormalize3D(align_spine=False)``), RandomRot(0.2) augmentation, 150 epochs, cosine.
Expected top-1 (PySKL, 10-clip test), joint / bone / joint-motion / bone-motion (2-stream, 4-stream): xsub
91.2 / 91.6 / 88.5 / 88.1 (92.9, 93.2); xview 96.7 / 96.1 / 95.6 / 94.3 (97.4, 97.5). Fuse streams with
``python -m skeljax.tools.fuse --results j.pkl b.pkl --coefficients 1 1`` (4 streams: ``--results j.pkl
b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1``). PySKL trains DG-STGCN on 3D skeletons only (no 2d variant).
Synthetic: a few steps on synthetic_skeleton, no accuracy target.
"""

from configs import _dgstgcn


def get_config(arg=None):
  return _dgstgcn.ntu_config(arg, num_classes=60)
