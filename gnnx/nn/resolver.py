"""PyG's resolvers (``torch_geometric.nn.resolver``): a module, function, optimizer or
scheduler from its name, as configuration files (GraphGym's) name them.

A name matches a class whatever its case, ``_``, ``-`` and spaces, with or without the family's
suffix (``"batch"`` for ``BatchNorm``, ``"sum"`` for ``SumAggregation``); a class is built with
the remaining arguments; anything that is not a string is returned as given.
"""
from __future__ import annotations

import inspect
from typing import Any, Dict, List, Optional, Union

import torch
from torch import Tensor
from torch.optim import Optimizer
from torch.optim.lr_scheduler import LRScheduler, ReduceLROnPlateau

from gnnx.nn import lr_scheduler as warmup


def normalize_string(s: str) -> str:
    return s.lower().replace("-", "").replace("_", "").replace(" ", "")


def resolver(classes: List[Any], class_dict: Dict[str, Any], query: Union[Any, str], base_cls: Optional[type],
             base_cls_repr: Optional[str], *args: Any, **kwargs: Any) -> Any:
    """``query`` resolved among ``class_dict`` (exact names) then ``classes``; classes are built
    with ``*args, **kwargs``, functions returned."""
    if not isinstance(query, str):
        return query
    found = _find(classes, class_dict, query, base_cls, base_cls_repr)
    return found(*args, **kwargs) if inspect.isclass(found) else found


def _find(classes: List[Any], class_dict: Dict[str, Any], query: str, base_cls: Optional[type],
          base_cls_repr: Optional[str]) -> Any:
    query_repr = normalize_string(query)
    suffix = normalize_string(base_cls_repr if base_cls_repr is not None else base_cls.__name__ if base_cls else "")
    found = class_dict.get(query_repr)
    if found is None:
        found = next((cls for cls in classes
                      if query_repr in (normalize_string(cls.__name__), normalize_string(cls.__name__).replace(suffix, ""))),
                     None)
    if found is None:
        choices = {cls.__name__ for cls in classes} | set(class_dict)
        raise ValueError(f"Could not resolve '{query}' among choices {choices}")
    return found


def _classes(namespace: Any, base: type) -> List[type]:
    return [value for value in vars(namespace).values() if isinstance(value, type) and issubclass(value, base)]


def swish(x: Tensor) -> Tensor:
    return x * x.sigmoid()


def activation_resolver(query: Union[Any, str] = "relu", *args: Any, **kwargs: Any) -> Any:
    """An activation of ``torch.nn`` (built) or ``swish`` (a function) by name."""
    return resolver(_classes(torch.nn.modules.activation, torch.nn.Module) + [swish], {}, query,
                    torch.nn.Module, "Act", *args, **kwargs)


def normalization_resolver(query: Union[Any, str], *args: Any, **kwargs: Any) -> Any:
    """One of :mod:`gnnx.nn.norm`'s normalisations by name (``"batch"``, ``"graph_norm"``, ...)."""
    from gnnx.nn import norm

    return resolver(_classes(norm, torch.nn.Module), {}, query, torch.nn.Module, "Norm", *args, **kwargs)


def aggregation_resolver(query: Union[Any, str], *args: Any, **kwargs: Any) -> Any:
    """An aggregation module by name (``"add"`` is ``SumAggregation``); a list gives a
    :class:`~gnnx.nn.aggr.MultiAggregation`."""
    from gnnx.nn import aggr

    if isinstance(query, (list, tuple)):
        return aggr.MultiAggregation(query, *args, **kwargs)
    return resolver(_classes(aggr, aggr.Aggregation), {"add": aggr.SumAggregation}, query, aggr.Aggregation, None,
                    *args, **kwargs)


def optimizer_resolver(query: Union[Any, str], *args: Any, **kwargs: Any) -> Any:
    """A ``torch.optim`` optimizer by name, built with ``(params, ...)``."""
    return resolver(_classes(torch.optim, Optimizer), {}, query, Optimizer, None, *args, **kwargs)


_WARMUP = (warmup.ConstantWithWarmupLR, warmup.LinearWithWarmupLR, warmup.CosineWithWarmupLR,
           warmup.CosineWithWarmupRestartsLR, warmup.PolynomialWithWarmupLR)


def lr_scheduler_resolver(query: Union[Any, str], optimizer: Optimizer,
                          warmup_ratio_or_steps: Optional[Union[float, int]] = 0.1,
                          num_training_steps: Optional[int] = None, **kwargs: Any
                          ) -> Union[LRScheduler, ReduceLROnPlateau]:
    """A ``torch.optim.lr_scheduler`` scheduler or one of :mod:`gnnx.nn.lr_scheduler`'s warmup
    ones by name, for ``optimizer``. ``warmup_ratio_or_steps``: warmup steps (an int) or their
    share of ``num_training_steps`` (a float in [0, 1]); used by the warmup schedulers only."""
    if not isinstance(query, str):
        return query
    warmup_steps = None
    if isinstance(warmup_ratio_or_steps, float):
        if not 0.0 <= warmup_ratio_or_steps <= 1.0:
            raise ValueError(f"`warmup_ratio_or_steps` needs to be between 0.0 and 1.0 when given as a floating "
                             f"point number (got {warmup_ratio_or_steps}).")
        if num_training_steps is not None:
            warmup_steps = round(warmup_ratio_or_steps * num_training_steps)
    elif isinstance(warmup_ratio_or_steps, int):
        if warmup_ratio_or_steps < 0:
            raise ValueError(f"`warmup_ratio_or_steps` needs to be positive when given as an integer "
                             f"(got {warmup_ratio_or_steps}).")
        warmup_steps = warmup_ratio_or_steps
    else:
        raise ValueError(f"Found invalid type of `warmup_ratio_or_steps` (got {type(warmup_ratio_or_steps)})")
    classes = _classes(torch.optim.lr_scheduler, LRScheduler) + [ReduceLROnPlateau, *_WARMUP]
    cls = _find(classes, {}, query, None, "LR")
    if cls in _WARMUP:
        parameters = inspect.signature(cls).parameters
        if "num_warmup_steps" in parameters:
            kwargs["num_warmup_steps"] = warmup_steps
        if "num_training_steps" in parameters:
            kwargs["num_training_steps"] = num_training_steps
    return cls(optimizer, **kwargs)
