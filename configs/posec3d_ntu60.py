r"""PoseC3D (SlowOnly-R50, (4, 6, 3)) on NTU RGB+D 60, 2D HRNet poses. Variants ``:<xsub|xview>,<keypoint|limb>``,
``host_heatmap`` (render heatmaps on the host during training too), ``:synthetic``.

  python -m data_builders.build ntu60/xsub_2d --manual_dir=<dir with ntu60_hrnet.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/posec3d_ntu60.py:xsub,keypoint --workdir=$WD \
      --config.dataset.data_dir=$DATA

Expected top-1 (10 clips x 2 flips): xsub keypoint 93.6 / limb 93.5 / fused 94.0 (MMAction2 1.x; 0.x 93.7 /
93.4 / 94.1). xview (PySKL): keypoint 96.5, limb 96.0, fused 96.9. Fuse with ``python -m skeljax.tools.fuse
--results keypoint.pkl limb.pkl --coefficients 1 1``.
"""

from configs import _posec3d


def get_config(arg=None):
  return _posec3d.posec3d_config(arg, dataset='ntu60', num_classes=60, benchmarks=('xsub', 'xview'),
                                 label_names='ntu60', edition_suffix='_2d')
