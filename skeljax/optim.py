"""Optimiser and learning-rate schedules with MMAction2/PyTorch semantics.

PyTorch ``SGD(lr, momentum, nesterov, weight_decay)`` adds ``weight_decay * param`` to the gradient, then
``buf = momentum * buf + g`` and steps along ``g + momentum * buf`` (nesterov). ``optax.add_decayed_weights``
followed by ``optax.sgd(nesterov=True)`` is exactly that recurrence (optax's ``trace`` starts from zeros, which
equals PyTorch's first-step ``buf = g``). MMAction2 decays every parameter, BatchNorm scales and biases included
(no ``paramwise_cfg`` in the skeleton recipes), so no mask here.

Gradient clipping runs first, on the raw gradient: MMAction2 1.x ``OptimWrapper`` (and 0.x ``OptimizerHook``)
call ``clip_grad_norm_`` after ``backward()`` and before ``optimizer.step()``, and the weight decay lives inside
``step()``. PyTorch scales by ``max_norm / (norm + 1e-6)``, optax by ``max_norm / norm``: a relative difference
of ~1e-6 / norm, below float32 resolution at the norms where clipping bites (~40).
"""

from __future__ import annotations

from collections.abc import Mapping

import optax


def create_learning_rate_fn(cfg: Mapping, base_lr: float, steps_per_epoch: int,
                            num_epochs: int) -> optax.Schedule:
  """Learning rate per optimizer step from a ``schedule`` block (epochs converted to steps)."""
  name = cfg.get('name', 'constant')
  total_steps = max(int(num_epochs * steps_per_epoch), 1)
  warmup_steps = int(round(cfg.get('warmup_epochs', 0) * steps_per_epoch))
  by_iteration = cfg.get('by_iteration', True)
  if name == 'constant':
    main = optax.constant_schedule(base_lr)
  elif name == 'step':
    # MMEngine's MultiStepLR / mmcv's step policy: lr *= gamma at each milestone epoch boundary.
    gamma = cfg.get('gamma', 0.1)
    boundaries = {int(m * steps_per_epoch) - warmup_steps: gamma for m in cfg['milestones']}
    main = optax.piecewise_constant_schedule(base_lr, boundaries)
  elif name == 'cosine':
    eta_min = cfg.get('eta_min', 0.0)
    decay_steps = max(total_steps - warmup_steps, 1)
    if by_iteration:
      main = optax.cosine_decay_schedule(base_lr, decay_steps, alpha=eta_min / base_lr if base_lr else 0.0)
    else:
      # Per-epoch cosine: constant within an epoch, as a PyTorch scheduler stepped once per epoch.
      per_epoch = optax.cosine_decay_schedule(base_lr, max(num_epochs - cfg.get('warmup_epochs', 0), 1),
                                              alpha=eta_min / base_lr if base_lr else 0.0)
      main = lambda step: per_epoch(step // steps_per_epoch)  # noqa: E731
  else:
    raise ValueError(f"unknown schedule {name!r}; known: 'constant', 'step', 'cosine'")
  if warmup_steps <= 0:
    return main
  style = cfg.get('warmup_style', 'linear')
  if style == 'linear':
    # MMEngine LinearLR: factor goes linearly from start_factor to 1 over the warmup iterations.
    warmup = optax.linear_schedule(base_lr * cfg.get('warmup_start_factor', 0.1), base_lr, warmup_steps)
  elif style == 'epoch':
    # CTR-GCN's adjust_learning_rate, called once per epoch: lr = base * (epoch + 1) / warmup_epochs.
    warmup_epochs = cfg['warmup_epochs']
    warmup = lambda step: base_lr * (step // steps_per_epoch + 1) / warmup_epochs  # noqa: E731
  else:
    raise ValueError(f"unknown warmup_style {style!r}; known: 'linear', 'epoch'")
  return optax.join_schedules([warmup, main], [warmup_steps])


def create_optimizer(cfg: Mapping, learning_rate_fn: optax.Schedule,
                     grad_clip_norm: float | None = None) -> optax.GradientTransformation:
  """``clip -> weight decay -> SGD(momentum, nesterov)`` from an ``optimizer`` block (PyTorch SGD semantics)."""
  name = cfg.get('name', 'sgd')
  if name != 'sgd':
    raise ValueError(f"unknown optimizer {name!r}; the skeleton recipes use 'sgd'")
  parts = []
  if grad_clip_norm is not None:
    parts.append(optax.clip_by_global_norm(float(grad_clip_norm)))
  weight_decay = cfg.get('weight_decay', 0.0)
  if weight_decay:
    parts.append(optax.add_decayed_weights(float(weight_decay)))
  momentum = cfg.get('momentum', 0.0)
  parts.append(optax.sgd(learning_rate_fn, momentum=momentum or None, nesterov=bool(cfg.get('nesterov', False))))
  return optax.chain(*parts)
