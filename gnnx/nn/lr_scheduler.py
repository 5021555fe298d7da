r"""PyG's warmup learning-rate schedulers (``torch_geometric.nn.lr_scheduler``).

Each is a :class:`~torch.optim.lr_scheduler.LambdaLR` whose factor rises linearly from 0 to 1
over ``num_warmup_steps`` steps, then follows its decay to the end of ``num_training_steps``:

* :class:`ConstantWithWarmupLR`: 1;
* :class:`LinearWithWarmupLR`: :math:`(T - t) / (T - W)`, down to 0;
* :class:`CosineWithWarmupLR`: :math:`\tfrac12 (1 + \cos(2 \pi c p))` with progress
  :math:`p = (t - W) / (T - W)` and ``num_cycles`` :math:`c` (0.5: one half cosine to 0);
* :class:`CosineWithWarmupRestartsLR`: :math:`\tfrac12 (1 + \cos(\pi ((c p) \bmod 1)))`, ``c``
  hard restarts, 0 after the end;
* :class:`PolynomialWithWarmupLR`: :math:`((l_0 - l_e) (1 - p)^{\text{power}} + l_e) / l_0`,
  ``lr_end`` :math:`l_e` after the end.
"""
from __future__ import annotations

import functools
import math

from torch.optim import Optimizer
from torch.optim.lr_scheduler import LambdaLR


def _warmup(step: int, num_warmup_steps: int) -> float:
    return float(step) / float(max(1, num_warmup_steps))


def _progress(step: int, num_warmup_steps: int, num_training_steps: int) -> float:
    return float(step - num_warmup_steps) / float(max(1, num_training_steps - num_warmup_steps))


def _constant(step: int, num_warmup_steps: int) -> float:
    return _warmup(step, num_warmup_steps) if step < num_warmup_steps else 1.0


def _linear(step: int, num_warmup_steps: int, num_training_steps: int) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    return max(0.0, float(num_training_steps - step) / float(max(1, num_training_steps - num_warmup_steps)))


def _cosine(step: int, num_warmup_steps: int, num_training_steps: int, num_cycles: float) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    progress = _progress(step, num_warmup_steps, num_training_steps)
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * float(num_cycles) * 2.0 * progress)))


def _cosine_restarts(step: int, num_warmup_steps: int, num_training_steps: int, num_cycles: int) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    progress = _progress(step, num_warmup_steps, num_training_steps)
    if progress >= 1.0:
        return 0.0
    return max(0.0, 0.5 * (1.0 + math.cos(math.pi * ((float(num_cycles) * progress) % 1.0))))


def _polynomial(step: int, num_warmup_steps: int, num_training_steps: int, lr_init: float, lr_end: float,
                power: float) -> float:
    if step < num_warmup_steps:
        return _warmup(step, num_warmup_steps)
    if step > num_training_steps:
        return lr_end / lr_init  # (LambdaLR multiplies by lr_init)
    remaining = 1 - (step - num_warmup_steps) / (num_training_steps - num_warmup_steps)
    return ((lr_init - lr_end) * remaining ** power + lr_end) / lr_init


class ConstantWithWarmupLR(LambdaLR):
    """Linear warmup to the optimizer's learning rate, then constant."""

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, last_epoch: int = -1) -> None:
        super().__init__(optimizer, functools.partial(_constant, num_warmup_steps=num_warmup_steps), last_epoch)


class LinearWithWarmupLR(LambdaLR):
    """Linear warmup, then linear decay to 0 at ``num_training_steps``."""

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
                 last_epoch: int = -1) -> None:
        super().__init__(optimizer, functools.partial(_linear, num_warmup_steps=num_warmup_steps,
                                                      num_training_steps=num_training_steps), last_epoch)


class CosineWithWarmupLR(LambdaLR):
    """Linear warmup, then a cosine decay over ``num_cycles`` waves (0.5: to 0)."""

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
                 num_cycles: float = 0.5, last_epoch: int = -1) -> None:
        super().__init__(optimizer, functools.partial(_cosine, num_warmup_steps=num_warmup_steps,
                                                      num_training_steps=num_training_steps,
                                                      num_cycles=num_cycles), last_epoch)


class CosineWithWarmupRestartsLR(LambdaLR):
    """Linear warmup, then ``num_cycles`` cosine decays with hard restarts."""

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
                 num_cycles: int = 3, last_epoch: int = -1) -> None:
        super().__init__(optimizer, functools.partial(_cosine_restarts, num_warmup_steps=num_warmup_steps,
                                                      num_training_steps=num_training_steps,
                                                      num_cycles=num_cycles), last_epoch)


class PolynomialWithWarmupLR(LambdaLR):
    """Linear warmup, then a polynomial decay (``power``) to ``lr_end``."""

    def __init__(self, optimizer: Optimizer, num_warmup_steps: int, num_training_steps: int,
                 lr_end: float = 1e-7, power: float = 1.0, last_epoch: int = -1) -> None:
        lr_init = optimizer.defaults["lr"]
        if not lr_init > lr_end:
            raise ValueError(f"`lr_end` ({lr_end}) must be smaller than the initial lr ({lr_init})")
        super().__init__(optimizer, functools.partial(_polynomial, num_warmup_steps=num_warmup_steps,
                                                      num_training_steps=num_training_steps, lr_init=lr_init,
                                                      lr_end=lr_end, power=power), last_epoch)
