"""NTU RGB+D and NW-UCLA recipes of the GCN families trained exactly like 1.x ST-GCN (not a config itself).

MMAction2 1.x trains ST-GCN++ (``configs/skeleton/stgcnpp``) and CTR-GCN (``projects/ctrgcn``) with ST-GCN's
1.x recipe unchanged, and PySKL's "PYSKL practice" configs for both are the same recipe (spec §6.4):
PreNormalize -> GenSkeFeat -> UniformSampleFrames(100) pipelines, batch 16 x 8, SGD 0.1 nesterov wd 5e-4,
cosine per iteration, 16 epochs x RepeatDataset(5), 10-clip test. So these configs take ``_gcn_ntu`` /
``_nwucla`` as they are and put the family's model block in; only the model differs.
"""

from __future__ import annotations

from collections.abc import Callable

import ml_collections

from configs import _gcn_ntu, _nwucla, _zoo

# (num_classes, layout, num_person) -> cfg.model
ModelFn = Callable[..., ml_collections.ConfigDict]


def ntu_config(arg: str | None, *, model_fn: ModelFn, num_classes: int, family: str) -> ml_collections.ConfigDict:
  """``family`` on NTU60 / NTU120 (``num_classes`` 60 / 120) with the 1.x recipe, variant ``arg``."""
  if '0x' in {t.strip() for t in (arg or '').split(',')}:
    raise ValueError(f'{family} has no MMAction2 0.x recipe; the 0x variant exists for ST-GCN and 2s-AGCN only')
  c = _gcn_ntu.ntu_config(arg, model='stgcn', num_classes=num_classes)
  c.model = model_fn(num_classes=c.model.num_classes, layout=c.dataset.layout, num_person=2)
  return c


def nwucla_config(arg: str | None, *, model_fn: ModelFn) -> ml_collections.ConfigDict:
  """``model_fn``'s family on NW-UCLA cross-view with ``_nwucla``'s recipe (one person, 52 frames)."""
  c = _nwucla.nwucla_config(arg, model='stgcn')
  c.model = model_fn(num_classes=c.model.num_classes, layout=c.model.graph_cfg.layout, num_person=1)
  return c


def stgcnpp_model(*, num_classes: int, layout: str, num_person: int) -> ml_collections.ConfigDict:
  """MMAction2 ``STGCN(gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn')`` on the ``spatial`` graph."""
  return _zoo.gcn_model('stgcn', num_classes=num_classes, layout=layout, strategy='spatial', num_person=num_person,
                        gcn_adaptive='init', gcn_with_res=True, tcn_type='mstcn')


def ctrgcn_model(*, num_classes: int, layout: str, num_person: int) -> ml_collections.ConfigDict:
  """MMAction2 ``projects/ctrgcn`` ``CTRGCN`` on the ``spatial`` graph (data BN over M * V * C)."""
  return _zoo.gcn_model('ctrgcn', num_classes=num_classes, layout=layout, strategy='spatial', num_person=num_person)
