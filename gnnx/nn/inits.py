"""Parameter initialisers and the activation resolver shared by the layers."""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Tuple, Union

import torch
from torch import Tensor


def _ready(t: Optional[Tensor]) -> bool:
    """A tensor to initialise now (not absent, not a lazy module's uninitialised parameter)."""
    return t is not None and not isinstance(t, torch.nn.parameter.UninitializedParameter)


def _each(value: Any, init: Callable[[Tensor], None]) -> None:
    """``init`` on ``value``, or, as PyG's initialisers do for a module, on each of its
    parameters and buffers."""
    if isinstance(value, Tensor) or value is None:
        if _ready(value):
            with torch.no_grad():
                init(value)
        return
    for tensor in list(value.parameters() if hasattr(value, "parameters") else []) + \
            list(value.buffers() if hasattr(value, "buffers") else []):
        _each(tensor, init)


def glorot(value: Any) -> None:
    """Glorot/Xavier uniform over the last two dimensions (PyG's ``glorot``)."""
    def init(t: Tensor) -> None:
        bound = math.sqrt(6.0 / (t.size(-2) + t.size(-1)))
        t.uniform_(-bound, bound)

    _each(value, init)


def glorot_orthogonal(tensor: Optional[Tensor], scale: float) -> None:
    """PyG's ``glorot_orthogonal`` (DimeNet's), in PyG's arithmetic: an orthogonal matrix scaled
    to variance ``scale / (fan_in + fan_out)``."""
    if _ready(tensor):
        torch.nn.init.orthogonal_(tensor.data)
        factor = scale / ((tensor.size(-2) + tensor.size(-1)) * tensor.var())
        tensor.data *= factor.sqrt()


def uniform(size: int, value: Any) -> None:
    r"""Uniform in :math:`\pm 1/\sqrt{\text{size}}` (PyG's ``uniform``; ``torch.nn.Linear``'s bias)."""
    _each(value, lambda t: t.uniform_(-1.0 / math.sqrt(size), 1.0 / math.sqrt(size)))


def kaiming_uniform(value: Any, fan: int, a: float = math.sqrt(5)) -> None:
    r"""He uniform over ``fan`` inputs in PyG's arithmetic (PyG's ``kaiming_uniform``; with
    :math:`a = \sqrt 5`, ``torch.nn.Linear``'s weight bound): the same draw as PyG's."""
    bound = math.sqrt(6 / ((1 + a ** 2) * fan))
    _each(value, lambda t: t.uniform_(-bound, bound))


def constant(value: Any, fill_value: float) -> None:
    _each(value, lambda t: t.fill_(fill_value))


def zeros(value: Any) -> None:
    constant(value, 0.0)


def ones(tensor: Any) -> None:
    constant(tensor, 1.0)


def normal(value: Any, mean: float, std: float) -> None:
    _each(value, lambda t: t.normal_(mean, std))


def reset_layer(layer: torch.nn.Module) -> None:
    """A layer built from submodules: reset each one (nested ``Sequential`` MLPs included)
    and zero its ``bias``, the initialisation PyG gives such layers."""
    for name, child in layer.named_children():
        if name != "aggr_module":
            reset(child)
    zeros(getattr(layer, "bias", None))


def one_value(module: torch.nn.Module, name: str, trainable: bool, value: float) -> None:
    """``module.<name>``: a one-element parameter where ``trainable``, else a buffer (PyG's
    layout for GIN's ``eps`` and AGNN's ``beta``: the state dict holds it either way), set to
    ``value``."""
    if trainable:
        setattr(module, name, torch.nn.Parameter(torch.full((1,), float(value))))
    else:
        module.register_buffer(name, torch.full((1,), float(value)))


def reset(module: Any) -> None:
    """Reset every submodule of ``module`` that knows how (a plain callable: nothing to reset)."""
    if not isinstance(module, torch.nn.Module):
        return
    for child in module.modules():
        if child is not module and hasattr(child, "reset_parameters"):
            child.reset_parameters()
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()


def _glorot_zero(lin: torch.nn.Linear) -> None:
    glorot(lin.weight)
    zeros(lin.bias)


class _LazyLinear(torch.nn.LazyLinear):
    """``nn.LazyLinear`` that applies a layer's initializer when its input size is known
    (PyG's ``Linear(-1, ...)``); it becomes a plain ``nn.Linear`` after the first call."""

    def __init__(self, out_features: int, bias: bool, initializer: Optional[Callable[[torch.nn.Linear], None]]):
        super().__init__(out_features, bias=bias)
        self._initializer = initializer

    def reset_parameters(self) -> None:
        if self.has_uninitialized_params() or self.in_features == 0:
            return
        super().reset_parameters()
        if self._initializer is not None:
            self._initializer(self)


def linear(in_features: int, out_features: int, bias: bool = True,
           weight_initializer: Optional[str] = None) -> torch.nn.Linear:
    """``nn.Linear(in_features, out_features)``; lazy (input size read on the first call) when
    ``in_features <= 0``, as PyG's ``in_channels=-1``. ``weight_initializer="glorot"``: Glorot
    weights and zero bias (PyG's ``weight_initializer='glorot'``), also for the lazy kind.
    State dict keys are ``weight``/``bias`` either way."""
    initializer = _glorot_zero if weight_initializer == "glorot" else None
    if in_features <= 0:
        return _LazyLinear(out_features, bias, initializer)
    lin = torch.nn.Linear(in_features, out_features, bias=bias)
    if initializer is not None:
        initializer(lin)
    return lin


def lazy_parameters(module: torch.nn.Module, shapes: Dict[str, Tuple[int, ...]]) -> None:
    """Give ``module`` parameters whose shape holds the input width, read on the first call
    (PyG's ``in_channels=-1`` for raw weights): ``shapes`` maps each name to its shape with
    ``-1`` where the width of the first input (``x``, or ``x[0]`` of a pair) goes. The
    parameters materialise on the first forward or from a loaded ``state_dict``, then the
    module's ``reset_parameters`` runs (on the first forward)."""
    module._lazy_shapes = dict(shapes)
    for name in shapes:
        setattr(module, name, torch.nn.parameter.UninitializedParameter())
    module.register_forward_pre_hook(_materialize_on_call)
    module._register_load_state_dict_pre_hook(_materialize_on_load, with_module=True)


def _materialize_on_call(module: torch.nn.Module, args: Tuple[Any, ...]) -> None:
    pending = [n for n in module._lazy_shapes if isinstance(getattr(module, n), torch.nn.parameter.UninitializedParameter)]
    if not pending:
        return
    x = args[0][0] if isinstance(args[0], (tuple, list)) else args[0]
    for name in pending:
        getattr(module, name).materialize(tuple(x.size(-1) if d == -1 else d for d in module._lazy_shapes[name]))
    module.reset_parameters()


def _materialize_on_load(module: torch.nn.Module, state_dict, prefix: str, *args: Any) -> None:
    for name in module._lazy_shapes:
        param, key = getattr(module, name), prefix + name
        if isinstance(param, torch.nn.parameter.UninitializedParameter) and key in state_dict:
            param.materialize(state_dict[key].shape)


def glorot_linear(in_features: int, out_features: int, bias: bool = True) -> torch.nn.Linear:
    """``nn.Linear`` with Glorot weights and zero bias (PyG's ``weight_initializer='glorot'``)."""
    return linear(in_features, out_features, bias, weight_initializer="glorot")


_ACTIVATIONS: Dict[str, Callable[..., torch.nn.Module]] = {
    "relu": torch.nn.ReLU,
    "elu": torch.nn.ELU,
    "leaky_relu": torch.nn.LeakyReLU,
    "gelu": torch.nn.GELU,
    "silu": torch.nn.SiLU,
    "swish": torch.nn.SiLU,
    "tanh": torch.nn.Tanh,
    "sigmoid": torch.nn.Sigmoid,
    "prelu": torch.nn.PReLU,
}


def activation(act: Union[str, Callable, None], **kwargs: Any) -> Optional[Callable]:
    """Resolve an activation given by name (PyG's names), module, or callable."""
    if act is None or callable(act):
        return act
    try:
        return _ACTIVATIONS[act.lower()](**kwargs)
    except KeyError:
        raise ValueError(f"unknown activation {act!r}; expected one of {sorted(_ACTIVATIONS)}") from None
