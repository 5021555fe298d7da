r"""PyG's ``Linear``: a linear layer with lazy input width and named initializers."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.nn.modules.lazy import LazyModuleMixin

from gnnx.nn.inits import glorot, kaiming_uniform, uniform, zeros

WEIGHT_INITIALIZERS = (None, "glorot", "uniform", "kaiming_uniform")
BIAS_INITIALIZERS = (None, "zeros")


def check_initializers(owner: str, weight_initializer: Optional[str], bias_initializer: Optional[str]) -> None:
    if weight_initializer not in WEIGHT_INITIALIZERS:
        raise ValueError(f"{owner}: weight_initializer {weight_initializer!r} is not one of {WEIGHT_INITIALIZERS}")
    if bias_initializer not in BIAS_INITIALIZERS:
        raise ValueError(f"{owner}: bias_initializer {bias_initializer!r} is not one of {BIAS_INITIALIZERS}")


def reset_weight(weight: Tensor, in_channels: int, initializer: Optional[str]) -> None:
    r"""PyG's ``reset_weight_``: ``"glorot"``, ``"uniform"`` (:math:`\pm 1/\sqrt{\text{in}}`), or
    ``"kaiming_uniform"``/``None`` (torch.nn.Linear's bound, in PyG's arithmetic); nothing while
    the width is unknown."""
    if in_channels <= 0:
        return
    if initializer == "glorot":
        glorot(weight)
    elif initializer == "uniform":
        uniform(in_channels, weight)
    else:
        kaiming_uniform(weight, in_channels)


def reset_bias(bias: Optional[Tensor], in_channels: int, initializer: Optional[str]) -> None:
    r"""PyG's ``reset_bias_``: ``"zeros"``, else :math:`\pm 1/\sqrt{\text{in}}`; nothing while the
    width is unknown."""
    if bias is None or in_channels <= 0:
        return
    if initializer == "zeros":
        zeros(bias)
    else:
        uniform(in_channels, bias)


class Linear(LazyModuleMixin, torch.nn.Linear):
    r"""A linear transformation,

    .. math::
        \mathbf{x}' = \mathbf{x}\mathbf{W}^\top + \mathbf{b},

    as :class:`torch.nn.Linear` (it is one: ``weight [out, in]``, ``bias [out]``), with PyG's
    arguments: ``in_channels=-1`` reads the width from the first input (or from a loaded
    ``state_dict``), and the initializers are named.

    Args:
        in_channels: width of the input, or ``-1`` (lazy).
        out_channels: width of the output.
        bias: whether to learn an additive bias.
        weight_initializer: ``"glorot"``, ``"uniform"`` (:math:`\pm 1/\sqrt{\text{in}}`),
            ``"kaiming_uniform"`` or ``None`` (both :class:`torch.nn.Linear`'s).
        bias_initializer: ``"zeros"`` or ``None`` (:class:`torch.nn.Linear`'s).

    For the same seed the parameters equal PyG's bit for bit. A lazy layer initialises
    outside compiled code: :func:`torch.compile` runs its first call's initialisation eagerly,
    as for :class:`torch.nn.LazyLinear`.

    Shapes:
        input ``[*, in]``; output ``[*, out]``.
    """

    cls_to_become = None  # stays a Linear once its width is known (its repr and initializers)

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True,
                 weight_initializer: Optional[str] = None, bias_initializer: Optional[str] = None) -> None:
        check_initializers("Linear", weight_initializer, bias_initializer)
        self.in_channels, self.out_channels = in_channels, out_channels
        self.weight_initializer, self.bias_initializer = weight_initializer, bias_initializer
        super().__init__(max(in_channels, 0), out_channels, bias=bias)
        if in_channels <= 0:
            self.weight = torch.nn.parameter.UninitializedParameter()
        else:  # nothing to infer: drop the lazy hooks, a plain module from here on
            self._initialize_hook.remove()
            self._load_hook.remove()
            del self._initialize_hook, self._load_hook

    def reset_parameters(self) -> None:
        """PyG's initialisation (none while the width is unknown)."""
        if self.in_channels <= 0 or self.has_uninitialized_params():
            return
        reset_weight(self.weight, self.in_channels, self.weight_initializer)
        reset_bias(self.bias, self.in_channels, self.bias_initializer)

    def initialize_parameters(self, input: Tensor) -> None:
        """The width from the first input (the lazy hook calls this once)."""
        if self.has_uninitialized_params():
            self._set_width(input.size(-1))
            with torch.no_grad():
                self.weight.materialize((self.out_channels, self.in_channels))
            self.reset_parameters()

    def _lazy_load_hook(self, state_dict, prefix, *args) -> None:
        super()._lazy_load_hook(state_dict, prefix, *args)
        if not self.has_uninitialized_params():  # materialised to the loaded weight's shape
            self._set_width(self.weight.size(1))

    def _set_width(self, width: int) -> None:
        self.in_channels = self.in_features = width

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, bias={self.bias is not None})"
