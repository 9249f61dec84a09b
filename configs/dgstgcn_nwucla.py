r"""DG-STGCN on NW-UCLA, cross-view (views 1+2 train, view 3 test). Variants ``:joint`` / ``:bone`` (also
``jm``, ``bm``), ``:synthetic``.

  python -m data_builders.build nwucla/xview --manual_dir=<dir with all_sqe> --data_dir=$DATA
  python -m skeljax.main --config=configs/dgstgcn_nwucla.py:joint --workdir=$WD \
      --config.dataset.data_dir=$DATA

Recipe: CTR-GCN's NW-UCLA schedule and pipeline (configs/_nwucla.py), shared by every model here so their
NW-UCLA numbers compare, with DG-STGCN (random 8-filter graph over the 20 Kinect v1 joints, one person).
Expected top-1: not established — PySKL publishes no NW-UCLA DG-STGCN result. For scale: InfoGCN reports 97.0
(multi-stream ensemble, spec §9.4).
"""

from configs import _dgstgcn


def get_config(arg=None):
  return _dgstgcn.nwucla_config(arg)
