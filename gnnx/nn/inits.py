"""Parameter initialisers and the activation resolver shared by the layers."""
from __future__ import annotations

import math
from typing import Any, Callable, Dict, Optional, Union

import torch
from torch import Tensor


def glorot(t: Optional[Tensor]) -> None:
    """Glorot/Xavier uniform over the last two dimensions (PyG's ``glorot``)."""
    if t is not None:
        bound = math.sqrt(6.0 / (t.size(-2) + t.size(-1)))
        with torch.no_grad():
            t.uniform_(-bound, bound)


def zeros(t: Optional[Tensor]) -> None:
    if t is not None:
        with torch.no_grad():
            t.zero_()


def reset(module: Optional[torch.nn.Module]) -> None:
    """Reset every submodule of ``module`` that knows how."""
    if module is None:
        return
    for child in module.modules():
        if child is not module and hasattr(child, "reset_parameters"):
            child.reset_parameters()
    if hasattr(module, "reset_parameters"):
        module.reset_parameters()


def glorot_linear(in_features: int, out_features: int, bias: bool = True) -> torch.nn.Linear:
    """``nn.Linear`` with Glorot weights and zero bias (PyG's ``weight_initializer='glorot'``)."""
    lin = torch.nn.Linear(in_features, out_features, bias=bias)
    glorot(lin.weight)
    zeros(lin.bias)
    return lin


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
