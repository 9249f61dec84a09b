r"""ST-GCN (1.x) on NW-UCLA, cross-view (views 1+2 train, view 3 test). Variants ``:joint`` / ``:bone``
(also ``jm``, ``bm``), ``:synthetic``.

  python -m skeljax.tools.nwucla_to_pickle --data_dir=<NW-UCLA all_sqe> --out=nwucla.pkl
  python -m data_builders.build nwucla/xview --manual_dir=<dir with all_sqe> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_nwucla.py:joint --workdir=$WD --config.dataset.data_dir=$DATA

Recipe: CTR-GCN's NW-UCLA schedule (see configs/_nwucla.py for it and for where the pipeline differs).
Expected top-1: not established — no published ST-GCN result uses this recipe. For scale: InfoGCN reports
97.0 (multi-stream ensemble, spec §9.4) and CTR-GCN 96.5 (4-stream; quoted from memory, unverified).
"""

from configs import _nwucla


def get_config(arg=None):
  return _nwucla.nwucla_config(arg, model='stgcn')
