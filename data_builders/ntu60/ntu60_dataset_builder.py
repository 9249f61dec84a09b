"""NTU RGB+D 60 skeletons from MMAction2 / PySKL pickles or raw files (xsub/xview × 3d/2d/3d_0x)."""

from __future__ import annotations

import tensorflow_datasets as tfds

from data_builders import common

_INSTRUCTIONS = f"""
Put one annotation pickle per edition in the manual directory (`--manual_dir`), unchanged:
  3D Kinect skeletons (configs xsub_3d, xview_3d), either of
    ntu60_3danno.pkl  {common.PYSKL_DATA_URL}/nturgbd/ntu60_3danno.pkl   (PySKL)
    ntu60_3d.pkl      {common.MMACTION2_DATA_URL}/ntu60_3d.pkl   (MMAction2 1.x)
  2D HRNet skeletons (configs xsub_2d, xview_2d), either of
    ntu60_hrnet.pkl   {common.PYSKL_DATA_URL}/nturgbd/ntu60_hrnet.pkl   (PySKL)
    ntu60_2d.pkl      {common.MMACTION2_DATA_URL}/ntu60_2d.pkl   (MMAction2 1.x)
Or, for the 3D configs, the raw Kinect files: extract the official skeleton zip(s) (nturgbd_skeletons_s001_to_s017.zip,
plus nturgbd_skeletons_s018_to_s032.zip for NTU120; https://rose1.ntu.edu.sg/dataset/actionRecognition/,
registration required) so that the manual directory holds nturgb+d_skeletons/*.skeleton. They are denoised
as PySKL's ntu_preproc.py does (`--beam` parses them in parallel).
MMAction2 0.x seed data (configs xsub_3d_0x, xview_3d_0x: top-2 energy bodies, 2s-AGCN pre_normalization)
comes from the same raw files, or from ntu60_3d_0x.pkl (written by `python -m skeljax.tools.ntu_to_pickle
--style=mmaction0x --dataset=ntu60 --out=ntu60_3d_0x.pkl`), or from the folders MMAction2 0.x
gen_ntu_rgbd_raw.py writes (xsub/train.pkl, xsub/val.pkl, xview/train.pkl, xview/val.pkl).
"""


class Builder(common.NtuBuilder):
  """NTU RGB+D 60 (56,578 clips, 60 classes)."""
  VERSION = tfds.core.Version('1.1.0')
  RELEASE_NOTES = {
      '1.0.0': 'First release: xsub/xview, 3D (Kinect) and 2D (HRNet) editions.',
      '1.1.0': 'Configs xsub_3d_0x, xview_3d_0x: MMAction2 0.x gen_ntu_rgbd_raw.py data (2 persons).',
  }
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  NTU_DATASET = 'ntu60'
  BUILDER_CONFIGS = common.benchmark_configs(
      dataset='NTU RGB+D 60', benchmarks=('xsub', 'xview'), num_classes=60,
      files_3d=('ntu60_3danno.pkl', 'ntu60_3d.pkl'), files_2d=('ntu60_hrnet.pkl', 'ntu60_2d.pkl'))
  BUILDER_CONFIGS += common.ntu_0x_configs(
      dataset='NTU RGB+D 60', prefix='ntu60', benchmarks={'xsub': 'xsub', 'xview': 'xview'}, num_classes=60,
      version='1.1.0')
