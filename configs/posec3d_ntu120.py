r"""PoseC3D (SlowOnly-R50, (4, 6, 3)) on NTU RGB+D 120, 2D HRNet poses. Variants ``:<xsub|xset>,<keypoint|limb>``,
``host_heatmap``, ``:synthetic``.

  python -m data_builders.build ntu120/xsub_2d --manual_dir=<dir with ntu120_hrnet.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/posec3d_ntu120.py:xsub,limb --workdir=$WD \
      --config.dataset.data_dir=$DATA

Expected top-1 (10 clips x 2 flips): xsub keypoint 86.3 / limb 85.7 / fused 86.9 (MMAction2 0.x model zoo).
xset (PySKL): keypoint 89.7, limb 89.7, fused 90.3. (0.x gave the NTU120 train set ``class_prob``, which is
inert without ``sample_by_class``; not reproduced.)
"""

from configs import _posec3d


def get_config(arg=None):
  return _posec3d.posec3d_config(arg, dataset='ntu120', num_classes=120, benchmarks=('xsub', 'xset'),
                                 label_names='ntu120', edition_suffix='_2d')
