"""NTU RGB+D 60 skeletons from MMAction2 / PySKL annotation pickles (configs: xsub/xview × 3d/2d)."""

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
"""


class Builder(common.NtuBuilder):
  """NTU RGB+D 60 (56,578 clips, 60 classes)."""
  VERSION = tfds.core.Version('1.0.0')
  RELEASE_NOTES = {'1.0.0': 'First release: xsub/xview, 3D (Kinect) and 2D (HRNet) editions.'}
  MANUAL_DOWNLOAD_INSTRUCTIONS = _INSTRUCTIONS
  NTU_DATASET = 'ntu60'
  BUILDER_CONFIGS = common.benchmark_configs(
      dataset='NTU RGB+D 60', benchmarks=('xsub', 'xview'), num_classes=60,
      files_3d=('ntu60_3danno.pkl', 'ntu60_3d.pkl'), files_2d=('ntu60_hrnet.pkl', 'ntu60_2d.pkl'))
