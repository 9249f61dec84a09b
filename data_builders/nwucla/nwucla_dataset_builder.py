"""NW-UCLA Multiview Action 3D (Kinect v1, 20 joints) from CTR-GCN's ``all_sqe`` JSON files (config ``xview``).

Cross-view protocol: views 1 and 2 → ``train`` (1,020 sequences), view 3 → ``val`` (464); 10 classes, one
person. Files are read by ``skeljax.data.nwucla`` (label = rank of the action number, CTR-GCN's ``label - 1``).
"""

from __future__ import annotations

import functools
import pathlib

import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = """
Put CTR-GCN's NW-UCLA release in the manual directory (`--manual_dir`): the folder `all_sqe/` with the 1,494
`aXX_sXX_eXX_vXX.json` files (CTR-GCN README, "Northwestern-UCLA": all_sqe.zip from
https://github.com/Uason-Chen/CTR-GCN#northwestern-ucla; original data http://wangjiangb.github.io/my_data.html).
The JSON files may also sit directly in the manual directory.
"""


def _example(path: str, **kwargs):
  from skeljax.data import nwucla  # pylint: disable=g-import-not-at-top
  return common.keyed_example(nwucla.load_nwucla_file(path), **kwargs)


class Builder(common.SkeletonBuilder):
  """NW-UCLA cross-view (views 1+2 train, view 3 val)."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  BUILDER_CONFIGS = [common.SkeletonConfig(
      name='xview', version='1.0.0', description='cross-view: views 1, 2 train; view 3 val',
      num_joints=20, num_channels=3, num_classes=10, with_score=False, layout='nw-ucla',
      splits=(common.SplitSource('train', ()), common.SplitSource('val', ())))]

  def _generate_examples(self, dl_manager, split):
    from skeljax.data import nwucla  # pylint: disable=g-import-not-at-top
    manual_dir = pathlib.Path(dl_manager.manual_dir)
    folder = manual_dir / 'all_sqe' if (manual_dir / 'all_sqe').is_dir() else manual_dir
    paths = sorted(folder.glob('a*_s*_e*_v*.json'))
    if not paths:
      raise FileNotFoundError(f'no aXX_sXX_eXX_vXX.json files in {folder}.\n{_INSTRUCTIONS}')
    views = nwucla.TRAIN_VIEWS if split.name == 'train' else nwucla.VAL_VIEWS
    paths = [str(p) for p in paths if nwucla.parse_name(p.name).view in views]
    cfg = self.builder_config
    convert = functools.partial(_example, num_joints=cfg.num_joints, num_channels=cfg.num_channels,
                                with_score=cfg.with_score, source=str(folder))
    if self._use_beam:
      return common.beam_module().Create(paths) | common.beam_module().Map(convert)
    return common.unique_keys(map(convert, paths), str(folder))
