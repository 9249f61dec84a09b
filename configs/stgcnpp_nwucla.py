r"""ST-GCN++ on NW-UCLA, cross-view (views 1+2 train, view 3 test). Variants ``:joint`` / ``:bone`` (also ``jm``,
``bm``), ``:synthetic``.

  python -m data_builders.build nwucla/xview --manual_dir=<dir with all_sqe> --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcnpp_nwucla.py:joint --workdir=$WD --config.dataset.data_dir=$DATA

Recipe: CTR-GCN's NW-UCLA schedule (configs/_nwucla.py, which also says where the pipeline differs), with
ST-GCN++'s model on the ``nw-ucla`` graph, one person. Expected top-1: not established — neither MMAction2 nor
PySKL publishes an NW-UCLA result for ST-GCN++. For scale: CTR-GCN's paper reports 96.5 (4-stream ensemble).
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.nwucla_config(arg, model_fn=_gcn_zoo.stgcnpp_model)
