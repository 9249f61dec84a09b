"""MMAction2 / PySKL GCN checkpoints (ST-GCN 0.x / 1.x, ST-GCN++, 2s-AGCN 0.x, AAGCN 1.x, CTR-GCN) -> skeljax.

``mmaction_key_map(model, edition)`` names every checkpoint tensor and where it goes; the fixed graph
buffers (``backbone.A``, 1.x ST-GCN's ``backbone.gcn.{i}.gcn.A``) are checks, so a checkpoint run with the
other edition's graph (the NTU and COCO edge lists changed between 0.x and 1.x) fails loudly instead of
giving silently wrong scores. The classifier may be named ``cls_head.fc`` (MMAction2 ``GCNHead``, 0.x
``STGCNHead``) or ``cls_head.fc_cls`` (PySKL's ``GCNHead``) in any edition: ``classifier_prefix`` reads which
from the state dict. ``edition='pyskl'`` is 1.x naming whose key map defaults to ``cls_head.fc_cls``.
"""

from __future__ import annotations

import numpy as np

from skeljax.checkpoint.mmaction import CheckpointMismatchError, KeyMap, load_state_dict_into
from skeljax.models.gcn.aagcn import AAGCNRecognizer
from skeljax.models.gcn.agcn import AGCNRecognizer
from skeljax.models.gcn.backbone import GCNBlock
from skeljax.models.gcn.ctrgcn import CTRGCNRecognizer
from skeljax.models.gcn.recognizer import GCNRecognizer
from skeljax.models.gcn.stgcn import STGCNRecognizer
from skeljax.models.gcn.units.ctrgcn_tcn import DilatedBranch, PoolBranch
from skeljax.models.gcn.units.ms_tcn import MultiScaleTemporalConv

EDITIONS = ('1.x', '0.x', 'pyskl')
# The classifier Linear of a GCN recognizer: MMAction2's GCNHead (and 0.x STGCNHead) call it `fc`, PySKL's `fc_cls`.
HEAD_PREFIXES = ('cls_head.fc', 'cls_head.fc_cls')
_BACKBONE = ('backbone',)


def classifier_prefix(state_dict, source: str = 'checkpoint') -> str:
  """The classifier's key prefix in a GCN state dict: 'cls_head.fc' (MMAction2) or 'cls_head.fc_cls' (PySKL).

  Raises ``CheckpointMismatchError`` naming ``source`` when the state dict has both or neither.
  """
  found = [p for p in HEAD_PREFIXES if any(k.startswith(p + '.') for k in state_dict)]
  if len(found) == 1:
    return found[0]
  if found:
    raise CheckpointMismatchError(
        f'{source} has two classifiers, cls_head.fc.* (MMAction2 GCNHead) and cls_head.fc_cls.* (PySKL '
        'GCNHead); a GCN checkpoint has exactly one')
  heads = sorted({k.rsplit('.', 1)[0] for k in state_dict if k.startswith('cls_head.')})
  raise CheckpointMismatchError(
      f'{source} has no classifier: expected cls_head.fc.weight/bias (MMAction2 GCNHead) or '
      f'cls_head.fc_cls.weight/bias (PySKL GCNHead); its cls_head tensors: {heads or "none"}')


def add_classifier(key_map: KeyMap, prefix: str, path: tuple = ('cls_head', 'fc')) -> None:
  """Maps the classifier at ``prefix`` (see ``classifier_prefix``) onto the model's head Linear at ``path``."""
  if prefix not in HEAD_PREFIXES:
    raise ValueError(f'GCN classifier prefix must be one of {HEAD_PREFIXES}, got {prefix!r}')
  # 0.x STGCNHead's 1x1 conv kernel [C, 256, 1, 1] squeezes to the same Dense kernel (linear_to_flax).
  key_map.add_linear(prefix, path)


def _block_path(i: int, *rest) -> tuple:
  return _BACKBONE + ('blocks', i) + rest


def _adjacency(model: GCNRecognizer) -> np.ndarray:
  return np.asarray(model.backbone.A[...])


def _add_residual(key_map: KeyMap, prefix: str, i: int, block: GCNBlock, conv: str, bn: str) -> None:
  if block.residual_kind == 'conv':
    key_map.add_conv(f'{prefix}.residual.{conv}', _block_path(i, 'residual', 'conv'))
    key_map.add_batchnorm(f'{prefix}.residual.{bn}', _block_path(i, 'residual', 'bn'))


def _add_adaptive_convs(key_map: KeyMap, prefix: str, i: int, unit) -> None:
  for name in ('conv_a', 'conv_b', 'conv_d'):
    for k in range(len(getattr(unit, name))):
      key_map.add_conv(f'{prefix}.gcn.{name}.{k}', _block_path(i, 'gcn', name, k))
  if unit.down is not None:
    key_map.add_conv(f'{prefix}.gcn.down.0', _block_path(i, 'gcn', 'down', 'conv'))
    key_map.add_batchnorm(f'{prefix}.gcn.down.1', _block_path(i, 'gcn', 'down', 'bn'))
  key_map.add_batchnorm(f'{prefix}.gcn.bn', _block_path(i, 'gcn', 'bn'))


def _add_ms_tcn(key_map: KeyMap, prefix: str, path: tuple, tcn: MultiScaleTemporalConv) -> None:
  """MMAction2 ``mstcn``: ``branches.{i}`` (Sequential indices 0 conv, 1 BN, 3 unit_tcn), ``transform``, ``bn``."""
  for j, (entry, branch) in enumerate(zip(tcn.ms_cfg, tcn.branches)):
    if entry == '1x1':
      key_map.add_conv(f'{prefix}.branches.{j}', path + ('branches', j))
      continue
    key_map.add_conv(f'{prefix}.branches.{j}.0', path + ('branches', j, 'conv_in'))
    key_map.add_batchnorm(f'{prefix}.branches.{j}.1', path + ('branches', j, 'bn'))
    if entry[0] != 'max':
      key_map.add_conv(f'{prefix}.branches.{j}.3.conv', path + ('branches', j, 'conv_t'))
  key_map.add_batchnorm(f'{prefix}.transform.0', path + ('transform_bn',))
  key_map.add_conv(f'{prefix}.transform.2', path + ('transform_conv',))
  key_map.add_batchnorm(f'{prefix}.bn', path + ('bn',))


def _stgcn_1x(model: STGCNRecognizer, key_map: KeyMap) -> None:
  """1.x / PySKL ``STGCN`` with any ``gcn_adaptive`` / ``gcn_with_res`` / ``tcn_type`` (ST-GCN, ST-GCN++)."""
  for i, block in enumerate(model.backbone.blocks):
    prefix = f'backbone.gcn.{i}'
    unit = block.gcn
    if unit.adaptive == 'init':  # ST-GCN++ learns A: it is a weight, not a check
      key_map.add(f'{prefix}.gcn.A', _block_path(i, 'gcn', 'A'))
    else:
      key_map.checks[f'{prefix}.gcn.A'] = np.asarray(unit.A[...])
    if unit.PA is not None:
      key_map.add(f'{prefix}.gcn.PA', _block_path(i, 'gcn', 'PA'))
    key_map.add_conv(f'{prefix}.gcn.conv', _block_path(i, 'gcn', 'conv'))
    key_map.add_batchnorm(f'{prefix}.gcn.bn', _block_path(i, 'gcn', 'bn'))
    if unit.down is not None:
      key_map.add_conv(f'{prefix}.gcn.down.0', _block_path(i, 'gcn', 'down', 'conv'))
      key_map.add_batchnorm(f'{prefix}.gcn.down.1', _block_path(i, 'gcn', 'down', 'bn'))
    if isinstance(block.tcn, MultiScaleTemporalConv):
      _add_ms_tcn(key_map, f'{prefix}.tcn', _block_path(i, 'tcn'), block.tcn)
    else:
      key_map.add_conv(f'{prefix}.tcn.conv', _block_path(i, 'tcn', 'conv'))
      key_map.add_batchnorm(f'{prefix}.tcn.bn', _block_path(i, 'tcn', 'bn'))
    _add_residual(key_map, prefix, i, block, 'conv', 'bn')


def _stgcn_0x(model: STGCNRecognizer, key_map: KeyMap) -> None:
  key_map.checks['backbone.A'] = _adjacency(model)
  for i, block in enumerate(model.backbone.blocks):
    prefix = f'backbone.st_gcn_networks.{i}'
    if block.gcn.PA is not None:
      key_map.add(f'backbone.edge_importance.{i}', _block_path(i, 'gcn', 'PA'))
    key_map.add_conv(f'{prefix}.gcn.conv', _block_path(i, 'gcn', 'conv'))
    # 0.x tcn = [BN, ReLU, Conv, BN, Dropout]; its leading BN is our graph unit's trailing BN.
    key_map.add_batchnorm(f'{prefix}.tcn.0', _block_path(i, 'gcn', 'bn'))
    key_map.add_conv(f'{prefix}.tcn.2', _block_path(i, 'tcn', 'conv'))
    key_map.add_batchnorm(f'{prefix}.tcn.3', _block_path(i, 'tcn', 'bn'))
    _add_residual(key_map, prefix, i, block, '0', '1')


def _agcn_0x(model: AGCNRecognizer, key_map: KeyMap) -> None:
  key_map.checks['backbone.A'] = _adjacency(model)
  for i, block in enumerate(model.backbone.blocks):
    prefix = f'backbone.agcn_networks.{i}'
    key_map.add(f'{prefix}.gcn.PA', _block_path(i, 'gcn', 'PA'))
    _add_adaptive_convs(key_map, prefix, i, block.gcn)
    key_map.add_conv(f'{prefix}.tcn.0', _block_path(i, 'tcn', 'conv'))
    key_map.add_batchnorm(f'{prefix}.tcn.1', _block_path(i, 'tcn', 'bn'))
    _add_residual(key_map, prefix, i, block, '0', '1')


def _aagcn_1x(model: AAGCNRecognizer, key_map: KeyMap) -> None:
  key_map.checks['backbone.A'] = _adjacency(model)
  for i, block in enumerate(model.backbone.blocks):
    prefix = f'backbone.gcn.{i}'
    unit = block.gcn
    key_map.add(f'{prefix}.gcn.A', _block_path(i, 'gcn', 'A'))
    key_map.add(f'{prefix}.gcn.alpha', _block_path(i, 'gcn', 'alpha'))
    _add_adaptive_convs(key_map, prefix, i, unit)
    if unit.attention is not None:
      for name in ('conv_sa', 'conv_ta'):
        key_map.add_conv(f'{prefix}.gcn.{name}', _block_path(i, 'gcn', 'attention', name))
      for name in ('fc1c', 'fc2c'):
        key_map.add_linear(f'{prefix}.gcn.{name}', _block_path(i, 'gcn', 'attention', name))
    key_map.add_conv(f'{prefix}.tcn.conv', _block_path(i, 'tcn', 'conv'))
    key_map.add_batchnorm(f'{prefix}.tcn.bn', _block_path(i, 'tcn', 'bn'))
    _add_residual(key_map, prefix, i, block, 'conv', 'bn')


def _ctrgcn(model: CTRGCNRecognizer, key_map: KeyMap) -> None:
  """MMAction2 ``projects/ctrgcn`` / PySKL ``CTRGCN``: blocks ``backbone.net.{i}`` with ``gcn1`` / ``tcn1``."""
  key_map.checks['backbone.A'] = _adjacency(model)
  for i, block in enumerate(model.backbone.blocks):
    prefix = f'backbone.net.{i}'
    unit = block.gcn
    key_map.add(f'{prefix}.gcn1.A', _block_path(i, 'gcn', 'A'))
    key_map.add(f'{prefix}.gcn1.alpha', _block_path(i, 'gcn', 'alpha'))
    for k in range(len(unit.convs)):
      for name in ('conv1', 'conv2', 'conv3', 'conv4'):
        key_map.add_conv(f'{prefix}.gcn1.convs.{k}.{name}', _block_path(i, 'gcn', 'convs', k, name))
    if unit.down is not None:
      key_map.add_conv(f'{prefix}.gcn1.down.0', _block_path(i, 'gcn', 'down', 'conv'))
      key_map.add_batchnorm(f'{prefix}.gcn1.down.1', _block_path(i, 'gcn', 'down', 'bn'))
    key_map.add_batchnorm(f'{prefix}.gcn1.bn', _block_path(i, 'gcn', 'bn'))
    for j, branch in enumerate(block.tcn.branches):
      path = _block_path(i, 'tcn', 'branches', j)
      key_map.add_conv(f'{prefix}.tcn1.branches.{j}.0', path + ('conv_in',))
      key_map.add_batchnorm(f'{prefix}.tcn1.branches.{j}.1', path + ('bn',))
      if isinstance(branch, DilatedBranch):
        key_map.add_conv(f'{prefix}.tcn1.branches.{j}.3.conv', path + ('tcn', 'conv'))
        key_map.add_batchnorm(f'{prefix}.tcn1.branches.{j}.3.bn', path + ('tcn', 'bn'))
      elif isinstance(branch, PoolBranch):
        key_map.add_batchnorm(f'{prefix}.tcn1.branches.{j}.4', path + ('bn_out',))
    _add_residual(key_map, prefix, i, block, 'conv', 'bn')


def mmaction_key_map(model: GCNRecognizer, edition: str, head_prefix: str | None = None) -> KeyMap:
  """The KeyMap of an MMAction2 ``edition`` ('1.x', '0.x' or 'pyskl') checkpoint for this GCN model.

  ``head_prefix`` names the classifier ('cls_head.fc' or 'cls_head.fc_cls'); None means the edition's own.
  """
  if edition not in EDITIONS:
    raise ValueError(f'edition must be one of {EDITIONS}, got {edition!r}')
  key_map = KeyMap()
  if model.backbone.data_bn.bn is not None:
    key_map.add_batchnorm('backbone.data_bn', _BACKBONE + ('data_bn', 'bn'))
  if isinstance(model, STGCNRecognizer):
    (_stgcn_0x if edition == '0.x' else _stgcn_1x)(model, key_map)
  elif isinstance(model, AGCNRecognizer):
    if edition != '0.x':
      raise ValueError(f"model 'agcn' is the 0.x AGCN; its checkpoints are edition '0.x', not {edition!r} "
                       "(1.x 2s-AGCN checkpoints are AAGCN: build model 'aagcn')")
    _agcn_0x(model, key_map)
  elif isinstance(model, AAGCNRecognizer):
    if edition == '0.x':
      raise ValueError("model 'aagcn' is the 1.x AAGCN; 0.x 2s-AGCN checkpoints need model 'agcn'")
    _aagcn_1x(model, key_map)
  elif isinstance(model, CTRGCNRecognizer):
    if edition == '0.x':
      raise ValueError("CTR-GCN checkpoints are MMAction2 1.x (projects/ctrgcn) or PySKL, not edition '0.x'")
    _ctrgcn(model, key_map)
  else:
    raise TypeError(f'not a skeljax GCN recognizer: {type(model).__name__}')
  add_classifier(key_map, head_prefix or ('cls_head.fc_cls' if edition == 'pyskl' else 'cls_head.fc'))
  return key_map


def import_mmaction_gcn(model: GCNRecognizer, state_dict: dict[str, np.ndarray], edition: str | None = None,
                        source: str = 'checkpoint') -> None:
  """Loads an MMAction2/PySKL GCN ``state_dict`` into ``model`` in place.

  ``edition`` ('1.x', '0.x', 'pyskl') names the checkpoint's key layout; None means the model's own
  ``edition`` (the one it was built for). The classifier may be ``cls_head.fc`` or ``cls_head.fc_cls``
  whatever the edition. Raises ``CheckpointMismatchError`` listing every unknown, missing or mis-shaped key
  and every graph buffer that differs from the model's graph. ``source`` (e.g. the file name) prefixes the
  message.
  """
  if 'state_dict' in state_dict and isinstance(state_dict['state_dict'], dict):
    state_dict = state_dict['state_dict']
  edition = model.edition if edition is None else edition
  key_map = mmaction_key_map(model, edition, head_prefix=classifier_prefix(state_dict, source))
  load_state_dict_into(model, state_dict, key_map, source=source)
