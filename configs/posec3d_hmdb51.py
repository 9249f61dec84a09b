r"""PoseC3D on HMDB51 split 1 (or ``:split2`` / ``:split3``), fine-tuned from the Kinetics-400 PoseC3D
((3, 4, 6) backbone). Variants ``host_heatmap``, ``:synthetic``.

  python -m skeljax.tools.convert_mmaction --config=configs/posec3d_k400.py \
      --checkpoint=k400_posec3d-041f49c6.pth --workdir=$K400
  python -m data_builders.build hmdb51/split1 --manual_dir=<dir with hmdb51_2d.pkl> --data_dir=$DATA
  python -m skeljax.main --config=configs/posec3d_hmdb51.py:split1 --workdir=$WD \
      --config.dataset.data_dir=$DATA --config.init_from=$K400  # required: without it the run refuses to start

Recipe (MMAction2 1.x): as UCF101 (SGD 0.01, wd 3e-4 — 0.x and PySKL used 1e-4 for HMDB51), step [9, 11],
12 epochs x RepeatDataset(10). Expected top-1 (split 1): 69.6 (1.x), 69.3 (0.x).
"""

from configs import _posec3d


def get_config(arg=None):
  return _posec3d.posec3d_config(arg, dataset='hmdb51', num_classes=51, small=True, num_person=4,
                                 benchmarks=('split1', 'split2', 'split3'), eval_split='test')
