r"""ST-GCN on BABEL (MMAction2 0.x, spec §7). Variants ``:babel60`` / ``:babel120``, plus ``wfl`` for the
class-balanced focal loss (e.g. ``:babel120,wfl``), ``:synthetic``.

  python -m data_builders.build babel/babel60 --manual_dir=<dir with babel60_train.pkl, babel60_val.pkl> \
      --data_dir=$DATA
  python -m skeljax.main --config=configs/stgcn_babel.py:babel60,wfl --workdir=$WD --config.dataset.data_dir=$DATA

Recipe: 0.x ST-GCN (``ntu-rgb+d`` graph, edge importance, 0.x head over one person), all 150 frames
(PoseDecode -> FormatGCNInput(NCTVM, num_person=1), no sampling, no normalisation), batch 16 x 8, SGD 0.1
nesterov wd 1e-4, step [10, 14], 16 epochs x RepeatDataset(5). ``wfl``: CBFocalLoss(beta 0.9999,
gamma 2) with the per-class training counts below (MMAction2 0.x ``stgcn_80e_babel{60,120}_wfl.py``).
Expected top-1 / mean-class top-1: babel60 42.39 / 28.28, babel60 wfl 40.31 / 29.79, babel120 38.95 / 20.58,
babel120 wfl 33.00 / 24.33.
"""

from configs import _zoo

# Training-set sample counts per class, as listed in MMAction2 0.x's BABEL wfl configs (data, not code).
BABEL60_SAMPLES_PER_CLS = [
    518, 1993, 6260, 508, 208, 3006, 431, 724, 4527, 2131, 199, 1255, 487, 302, 136, 571, 267, 646, 1180, 405,
    731, 842, 1619, 271, 1198, 1012, 865, 462, 526, 405, 487, 168, 271, 609, 503, 167, 415, 421, 283, 2069,
    715, 196, 989, 122, 599, 396, 245, 380, 236, 260, 325, 133, 206, 191, 394, 145, 277, 268, 172, 146]
BABEL120_SAMPLES_PER_CLS = [
    518, 1993, 6260, 508, 208, 3006, 431, 724, 4527, 2131, 199, 1255, 487, 302, 136, 571, 267, 646, 1180, 405,
    72, 731, 842, 1619, 271, 27, 1198, 1012, 110, 865, 462, 526, 405, 487, 101, 24, 84, 64, 168, 271, 609, 503,
    76, 167, 415, 137, 421, 283, 2069, 715, 196, 66, 44, 989, 122, 43, 599, 396, 245, 380, 34, 236, 260, 325,
    127, 133, 119, 66, 125, 50, 206, 191, 394, 69, 98, 145, 38, 21, 29, 64, 277, 65, 39, 31, 35, 85, 54, 80,
    133, 66, 39, 64, 268, 34, 172, 54, 33, 21, 110, 19, 40, 55, 146, 39, 37, 75, 101, 20, 46, 55, 43, 21, 43,
    87, 29, 36, 24, 37, 28, 39]
SAMPLES_PER_CLS = {60: BABEL60_SAMPLES_PER_CLS, 120: BABEL120_SAMPLES_PER_CLS}


def get_config(arg=None):
  v = _zoo.parse_arg(arg, allowed=('wfl', 'synthetic'), groups={'subset': ('babel60', 'babel120')},
                     defaults=dict(subset='babel60'))
  num_classes = int(v['subset'][len('babel'):])
  c = _zoo.base_config()
  c.dataset.name = f'babel/{v["subset"]}'
  c.dataset.num_classes = num_classes
  c.dataset.layout = 'ntu-rgb+d'
  c.model = _zoo.gcn_model('stgcn', num_classes=num_classes, layout='ntu-rgb+d', strategy='stgcn_spatial',
                           edition='0.x', head='stgcn0x', num_person=1)
  c.train_pipeline, c.val_pipeline, c.test_pipeline = _zoo.gcn_pipelines_0x(
      normalize_2d=False, clip_len=None, num_person=1)
  c.global_batch_size = 128
  c.num_epochs = 16
  c.dataset_repeat = 5
  c.optimizer.weight_decay = 1e-4
  _zoo.step_schedule(c, [10, 14])
  c.eval.average_clips = 'score'
  c.eval.batch_size = 16
  if 'wfl' in v:
    c.loss.name = 'cb_focal'
    c.loss.samples_per_cls = list(SAMPLES_PER_CLS[num_classes])
  if 'synthetic' in v:
    _zoo.make_synthetic(c, layout='nturgb+d')
    # The synthetic clips vary in length; BABEL's fixed 150 frames become a 16-frame loop here.
    for pipeline in (c.train_pipeline, c.val_pipeline, c.test_pipeline):
      pipeline.insert(0, dict(type='PaddingWithLoop', clip_len=16))
    if 'wfl' in v:
      c.loss.samples_per_cls = [50] * _zoo.SYNTHETIC_NUM_CLASSES
  return c
