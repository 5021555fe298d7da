"""The node embeddings a model's message-passing layers produce (PyG's ``get_embeddings``
and ``get_embeddings_hetero``), read with forward hooks in one ``no_grad`` evaluation pass."""
from __future__ import annotations

import warnings
from typing import Any, Dict, List, Optional, Sequence, Type

import torch
from torch import Tensor

from gnnx.utils.eval_pass import eval_pass


def get_embeddings(model: torch.nn.Module, *args: Any, **kwargs: Any) -> List[Tensor]:
    """The outputs of every message-passing layer (gnnx's or PyG's) of ``model`` in call order,
    from ``model(*args, **kwargs)`` in evaluation mode."""
    from gnnx.nn.message_passing import message_passing_classes

    embeddings: List[Tensor] = []

    def hook(module: torch.nn.Module, inputs: Any, outputs: Any) -> None:
        outputs = outputs[0] if isinstance(outputs, tuple) else outputs
        embeddings.append(outputs.clone())  # a later in-place change must not reach it

    watched = [(m, hook) for m in model.modules() if isinstance(m, message_passing_classes())]
    if not watched:
        warnings.warn("The 'model' does not have any 'MessagePassing' layers", stacklevel=2)
    eval_pass(model, args, kwargs, watched)
    return embeddings


def get_embeddings_hetero(model: torch.nn.Module, supported_models: Optional[Sequence[Type[torch.nn.Module]]] = None,
                          *args: Any, **kwargs: Any) -> Dict[str, List[Tensor]]:
    """Per node type, the embeddings of each heterogeneous layer of ``model`` in call order:
    the layers of ``supported_models`` (default :class:`~gnnx.nn.HGTConv`,
    :class:`~gnnx.nn.HANConv`, :class:`~gnnx.nn.HeteroConv`) and the modules
    :func:`~gnnx.nn.to_hetero` made (those with a ``ModuleDict`` child)."""
    from gnnx.nn import HANConv, HeteroConv, HGTConv

    supported = tuple(supported_models or (HGTConv, HANConv, HeteroConv))
    embeddings: Dict[str, List[Tensor]] = {}

    def hook(module: torch.nn.Module, inputs: Any, outputs: Any) -> None:
        if isinstance(outputs, dict):
            for node_type, embedding in outputs.items():
                embeddings.setdefault(node_type, []).append(embedding.clone())

    watched = [(m, hook) for m in model.modules()
               if isinstance(m, supported) or any(isinstance(c, torch.nn.ModuleDict) for c in m.children())]
    if not watched:
        warnings.warn("The 'model' does not have any heterogenous 'MessagePassing' layers", stacklevel=2)
    eval_pass(model, args, kwargs, watched)
    return embeddings
