r"""2s-AGCN (1.x AAGCN, no attention) on NW-UCLA, cross-view. Variants ``:joint`` / ``:bone`` (also ``jm``,
``bm``), ``:synthetic``.

  python -m skeljax.main --config=configs/agcn_nwucla.py:bone --workdir=$WD --config.dataset.data_dir=$DATA
  python -m skeljax.tools.fuse --results joint.pkl bone.pkl --coefficients 1 1

Recipe: CTR-GCN's NW-UCLA schedule (configs/_nwucla.py). Expected top-1: not established — no published
2s-AGCN result uses this recipe. For scale: InfoGCN reports 97.0 (multi-stream ensemble, spec §9.4).
"""

from configs import _nwucla


def get_config(arg=None):
  return _nwucla.nwucla_config(arg, model='agcn')
