r"""ST-GCN (MMAction2 1.x recipe, shortened) on the embedded synthetic_skeleton dataset: what `make demo` runs.

  python -m data_builders.build synthetic_skeleton/ntu25_3d --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_synthetic.py --workdir=$WD --config.dataset.data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_synthetic.py --workdir=$WD --config.dataset.data_dir=$DATA \
      --mode=eval --out=$WD/result.pkl

Expected: validation top-1 >= 90% (13 actions, 208 val clips; measured 93-94% at epochs 4-8) after
NUM_EPOCHS epochs, about 3 minutes on two CPU cores. Variant ``:smoke`` trains a handful of steps only (CI).
Same model, optimiser (SGD, momentum 0.9, nesterov, wd 5e-4, per-iteration cosine) and pipeline ops as
configs/stgcn_ntu60.py, with shorter clips (CLIP_LEN frames instead of 100), batch 16 instead of 128 and no
dataset repeat, so it fits a laptop. The learning rate follows the smaller batch: the recipe's 0.1 is for 128
clips (MMAction2's auto_scale_lr base); at batch 16, 0.1 reaches only 50% in 6 epochs, 0.025 over 90% by
epoch 4 (linear scaling would say 0.0125; 0.025 converges faster in this short schedule).
"""

import ml_collections

from configs import _zoo

CLIP_LEN = 32
NUM_PERSON = 1
NUM_EPOCHS = 6
LEARNING_RATE = 0.025  # for batch 16; see the docstring


def get_config(arg=None) -> ml_collections.ConfigDict:
  v = _zoo.parse_arg(arg, allowed=('smoke',), defaults={}, groups={})
  c = _zoo.base_config()
  c.model = _zoo.gcn_model('stgcn', num_classes=_zoo.SYNTHETIC_NUM_CLASSES, layout='nturgb+d',
                           strategy='stgcn_spatial', num_person=NUM_PERSON)
  c.dataset.name = _zoo.SYNTHETIC_DATASETS['nturgb+d']
  c.dataset.num_classes = _zoo.SYNTHETIC_NUM_CLASSES
  c.dataset.layout = 'nturgb+d'
  c.dataset.test_split = 'test'
  c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_1x(
      dataset='nturgb+d', feat='j', clip_len=CLIP_LEN, num_person=NUM_PERSON, test_num_clips=2)
  c.global_batch_size = 16
  c.optimizer.lr = LEARNING_RATE
  c.num_epochs = NUM_EPOCHS
  c.dataset_repeat = 1
  c.eval.batch_size = 52
  c.eval.every_epochs = 2
  c.checkpoint.every_steps = 100
  c.log_every_steps = 10
  if 'smoke' in v:  # CI: 4 steps on 32 training clips, evaluated on 16
    c.dataset.train_split = 'train[:32]'
    c.dataset.val_split = 'val[:16]'
    c.dataset.test_split = 'test[:16]'
    c.global_batch_size = 8
    c.num_epochs = 1
    c.eval.every_epochs = 1
    c.eval.batch_size = 16
    c.log_every_steps = 2
  return c
