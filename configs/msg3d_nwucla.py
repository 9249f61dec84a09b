r"""MS-G3D on NW-UCLA, cross-view (views 1+2 train, view 3 test). Variants ``:joint`` / ``:bone`` (also
``jm``, ``bm``), ``:synthetic``.

  python -m data_builders.build nwucla/xview --manual_dir=<dir with all_sqe> --data_dir=$DATA
  python -m skeljax.main --config=configs/msg3d_nwucla.py:joint --workdir=$WD --config.dataset.data_dir=$DATA

Recipe: CTR-GCN's NW-UCLA schedule (configs/_nwucla.py) with MS-G3D (binary_adj over the 20 Kinect v1
joints, one person). Expected top-1: not established — neither MMAction2 nor PySKL publishes an NW-UCLA
MS-G3D result. For scale: InfoGCN reports 97.0 (multi-stream ensemble, spec §9.4).
"""

from configs import _gcn_zoo, _msg3d


def get_config(arg=None):
  return _gcn_zoo.nwucla_config(arg, model_fn=_msg3d.msg3d_model)
