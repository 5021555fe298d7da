"""Switching explain mode on and off in a model's message-passing layers (PyG's
``set_masks``, ``set_hetero_masks``, ``clear_masks``).

In explain mode a :class:`gnnx.nn.MessagePassing` layer multiplies each message by its
edge's mask value (:meth:`~gnnx.nn.MessagePassing.explain_message`) and leaves its fused
single-op path, so the mask reaches the messages. The self loops a layer adds itself get
mask 1, which is why ``_loop_mask`` (the edges that are not loops) is set beside the mask.
"""
from __future__ import annotations

from typing import Dict, Union

import torch
from torch import Tensor
from torch.nn import Parameter

from gnnx.hetero_graph import EdgeType
from gnnx.nn.message_passing import MessagePassing


def set_masks(model: torch.nn.Module, mask: Union[Tensor, Parameter], edge_index: Tensor,
              apply_sigmoid: bool = True) -> None:
    """Put every message-passing layer of ``model`` (but those whose ``explain`` is
    ``False``) in explain mode with the per-edge ``mask`` (``[E]``; a sigmoid applied to it
    first where ``apply_sigmoid``)."""
    loop_mask = edge_index[0] != edge_index[1]
    for module in model.modules():
        if isinstance(module, MessagePassing):
            if module.explain is False:
                continue
            # A module that held a Parameter mask keeps it one (nn.Module refuses a plain
            # tensor for a parameter's attribute).
            if not isinstance(mask, Parameter) and "_edge_mask" in module._parameters:
                mask = Parameter(mask)
            module.explain = True
            module._edge_mask = mask
            module._loop_mask = loop_mask
            module._apply_sigmoid = apply_sigmoid


def set_hetero_masks(model: torch.nn.Module, mask_dict: Dict[EdgeType, Union[Tensor, Parameter]],
                     edge_index_dict: Dict[EdgeType, Tensor], apply_sigmoid: bool = True) -> None:
    """:func:`set_masks` per edge type, on the layers a ``ModuleDict`` keeps under the edge
    type (``HeteroConv``'s ``convs``) or under its name (``"src__rel__dst"``, ``to_hetero``'s
    copies)."""
    for module in model.modules():
        if not isinstance(module, torch.nn.ModuleDict):
            continue
        for edge_type, mask in mask_dict.items():
            name = "__".join(edge_type)
            key = edge_type if edge_type in module else name if name in module else None
            if key is not None:
                set_masks(module[key], mask, edge_index_dict[edge_type], apply_sigmoid=apply_sigmoid)


def clear_masks(model: torch.nn.Module) -> torch.nn.Module:
    """Leave explain mode in every message-passing layer of ``model`` (an explicit
    ``explain = False`` stays)."""
    for module in model.modules():
        if isinstance(module, MessagePassing):
            if module.explain is True:
                module.explain = None
            module._edge_mask = None
            module._loop_mask = None
            module._apply_sigmoid = True
    return model
