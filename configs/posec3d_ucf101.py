r"""PoseC3D on UCF101 split 1 (or ``:split2`` / ``:split3``), fine-tuned from the Kinetics-400 PoseC3D
((3, 4, 6) backbone). Variants ``host_heatmap``, ``:synthetic``.

  python -m skeljax.tools.convert_mmaction --config=configs/posec3d_k400.py \
      --checkpoint=k400_posec3d-041f49c6.pth --workdir=$K400
  python -m data_builders.build ucf101/split1 --manual_dir=<dir with ucf101_2d.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/posec3d_ucf101.py:split1 --workdir=$WD \
      --config.dataset.data_dir=$DATA --config.init_from=$K400  # required: without it the run refuses to start

Recipe (MMAction2 1.x): batch 16 x 8, SGD 0.01 / wd 3e-4, grad clip 40, step [9, 11], 12 epochs x
RepeatDataset(10); train 48x48 crops, test Resize(-1, 56) + CenterCrop(56), 10 clips x 2 flips.
Expected top-1 (split 1): 86.8 (1.x), 87.0 (0.x). Class names: ``--config.label_names=<file>``.
"""

from configs import _posec3d


def get_config(arg=None):
  return _posec3d.posec3d_config(arg, dataset='ucf101', num_classes=101, small=True, num_person=4,
                                 benchmarks=('split1', 'split2', 'split3'), eval_split='test')
