r"""PoseC3D (SlowOnly-R50, (4, 6, 3)) on FineGYM-99, 2D HRNet poses. Variants ``:<keypoint|limb>``,
``host_heatmap``, ``:synthetic``.

  python -m data_builders.build finegym/2d --manual_dir=<dir with gym_hrnet.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/posec3d_gym.py:keypoint --workdir=$WD --config.dataset.data_dir=$DATA

Expected mean-class top-1 (the FineGYM metric; 10 clips x 2 flips): keypoint 93.5 / limb 93.6 (MMAction2
1.x); 0.x keypoint 93.7 / limb 94.0 / fused 94.3. Class names: pass ``--config.label_names=<file>``
(one name per line), otherwise classes are numbered.
"""

from configs import _posec3d


def get_config(arg=None):
  return _posec3d.posec3d_config(arg, dataset='finegym/2d', num_classes=99)
