r"""PoseC3D on Kinetics-400 skeletons ((3, 4, 6) backbone), MMAction2 1.x ``slowonly_r50_8xb32-u48-240e_k400-keypoint``.
Mainly used to convert the K400 checkpoint that UCF101 / HMDB51 fine-tune from:

  python -m skeljax.tools.convert_mmaction --config=configs/posec3d_k400.py \
      --checkpoint=k400_posec3d-041f49c6.pth --workdir=$K400

Training recipe: batch 32 x 8 = 256, SGD 0.4 / wd 1e-4, clip 40, cosine per iteration, 24 epochs x
RepeatDataset(10); val/test Resize(64, 64) without crop, 10 clips x 2 flips. Expected top-1 47.4 (1.x).
The 1.x config's ``DecompressPose`` step is the dataset builder's job here (it stores decompressed clips), and
its GeneratePoseTarget uses the defaults, which equal the keypoint settings. Variants ``host_heatmap``,
``:synthetic``.
"""

from configs import _posec3d


def get_config(arg=None):
  c = _posec3d.posec3d_config(arg, dataset='kinetics400/2d', num_classes=400, num_person=10)
  c.model.backbone.stage_blocks = (3, 4, 6)
  for pipeline in (c.val_pipeline, c.test_pipeline):
    at = next(i for i, op in enumerate(pipeline) if op['type'] == 'CenterCrop')
    pipeline[at - 1:at + 1] = [dict(type='Resize', scale=(64, 64), keep_ratio=False)]
  if c.dataset.name.startswith('kinetics400'):
    c.global_batch_size = 256
    c.optimizer.lr = 0.4
    c.optimizer.weight_decay = 1e-4
  return c
