r"""CTR-GCN on NW-UCLA, cross-view (views 1+2 train, view 3 test). Variants ``:joint`` / ``:bone`` (also ``jm``,
``bm``), ``:synthetic``.

  python -m data_builders.build nwucla/xview --manual_dir=<dir with all_sqe> --data_dir=$DATA
  python -m skeljax.main --config=configs/ctrgcn_nwucla.py:joint --workdir=$WD --config.dataset.data_dir=$DATA
  python -m skeljax.tools.fuse --results j.pkl b.pkl jm.pkl bm.pkl --coefficients 2 2 1 1

Recipe: CTR-GCN's own NW-UCLA schedule (configs/_nwucla.py), with MMAction2's CTR-GCN on the ``nw-ucla`` graph,
one person. Expected top-1: CTR-GCN's paper reports 96.5 (joint + bone + both motions, 4-stream ensemble)
with its own feeder (random rotation / scaling, min-max normalisation), which this MMAction2-style pipeline
does not reproduce (configs/_nwucla.py lists the differences); a per-stream number for this recipe is not
established.
"""

from configs import _gcn_zoo


def get_config(arg=None):
  return _gcn_zoo.nwucla_config(arg, model_fn=_gcn_zoo.ctrgcn_model)
