r"""A GNN as a function of the tensors `Captum <https://captum.ai>`_ attributes (PyG's
``to_captum_model``, ``to_captum_input``, ``captum_output_to_dicts``).

Captum's attribution methods differentiate a function of batched inputs. Here the inputs are
the node features, a mask over the edges (ones, so the model's output is unchanged, and
every message is multiplied by its edge's value: :func:`~gnnx.explain.algorithm.set_masks`),
or both, each with a leading batch dimension of one; the attributions come back in the same
layout: a node mask ``[N, F]`` and an edge mask ``[E]`` (per type for dict inputs).
"""
from __future__ import annotations

from enum import Enum
from typing import Any, Dict, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor

from gnnx.explain.algorithm.masks import clear_masks, set_hetero_masks, set_masks
from gnnx.explain.config import ModelConfig, ModelMode, ModelReturnType
from gnnx.hetero_graph import EdgeType, NodeType

Metadata = Tuple[List[NodeType], List[EdgeType]]


class MaskLevelType(Enum):
    """What Captum attributes: node features, edges, or both."""
    node = "node"
    edge = "edge"
    node_and_edge = "node_and_edge"

    @property
    def with_edge(self) -> bool:
        return self in (MaskLevelType.edge, MaskLevelType.node_and_edge)

    @property
    def with_node(self) -> bool:
        return self in (MaskLevelType.node, MaskLevelType.node_and_edge)


class CaptumModel(torch.nn.Module):
    """``model`` as Captum calls it: ``forward(mask, *args)``, the attributed input first
    (node features, edge mask or, for ``node_and_edge``, node features followed by the edge
    mask in ``args``), then ``edge_index`` and the model's other arguments.

    Args:
        model: the GNN, called as ``model(x, edge_index, *rest)``.
        mask_type: ``"node"``, ``"edge"`` or ``"node_and_edge"``.
        output_idx: the output rows to explain (all rows if ``None``).
        model_config: where binary classification with probabilities is turned into two
            classes, ``[1 - p, p]``, so Captum's ``target`` picks one.
    """

    def __init__(self, model: torch.nn.Module, mask_type: Union[str, MaskLevelType],
                 output_idx: Optional[Union[int, Tensor]] = None, model_config: Optional[ModelConfig] = None) -> None:
        super().__init__()
        self.mask_type = MaskLevelType(mask_type)
        self.model = model
        self.output_idx = output_idx
        self.model_config = model_config

    def forward(self, mask: Tensor, *args: Any) -> Tensor:
        needed = {MaskLevelType.node: 1, MaskLevelType.edge: 2, MaskLevelType.node_and_edge: 2}[self.mask_type]
        if len(args) < needed:
            raise ValueError(f"{type(self).__name__} ({self.mask_type.value} mask) takes the attributed input "
                             f"and then {'x, ' if self.mask_type == MaskLevelType.edge else ''}"
                             f"{'the edge mask, ' if self.mask_type == MaskLevelType.node_and_edge else ''}"
                             f"edge_index, got {len(args)} more argument(s)")
        _one_sample(mask)
        if self.mask_type == MaskLevelType.edge:  # mask: the edges; args: x, edge_index, ...
            set_masks(self.model, mask.squeeze(0), args[1], apply_sigmoid=False)
            return self.postprocess(self.model(*args))
        if self.mask_type == MaskLevelType.node_and_edge:  # args: edge mask, edge_index, ...
            set_masks(self.model, _one_sample(args[0]).squeeze(0), args[1], apply_sigmoid=False)
            args = args[1:]
        return self.postprocess(self.model(mask.squeeze(0), *args))

    def postprocess(self, out: Tensor) -> Tensor:
        """Leave explain mode, keep the explained rows, two classes for binary probabilities."""
        if self.mask_type.with_edge:
            clear_masks(self.model)
        if self.output_idx is not None:
            out = out[self.output_idx]
            if isinstance(self.output_idx, int) or self.output_idx.dim() == 0:
                out = out.unsqueeze(0)
        if self.model_config is not None and self.model_config.mode == ModelMode.binary_classification:
            if self.model_config.return_type != ModelReturnType.probs:
                raise ValueError("Captum explains binary classification from probabilities "
                                 f"(return_type='probs'), got return_type='{self.model_config.return_type.value}'")
            out = out.view(-1, 1)
            out = torch.cat([1 - out, out], dim=-1)
        return out


class CaptumHeteroModel(CaptumModel):
    """:class:`CaptumModel` for dict inputs: Captum's inputs are one tensor per node type
    (``node``), per edge type (``edge``) or both (node types first), in ``metadata``'s order;
    then ``x_dict`` (for ``edge``), ``edge_index_dict`` and the model's other arguments."""

    def __init__(self, model: torch.nn.Module, mask_type: Union[str, MaskLevelType],
                 output_idx: Optional[Union[int, Tensor]], metadata: Metadata,
                 model_config: Optional[ModelConfig] = None) -> None:
        super().__init__(model, mask_type, output_idx, model_config)
        self.node_types, self.edge_types = list(metadata[0]), list(metadata[1])

    def forward(self, *args: Any) -> Tensor:
        nodes = len(self.node_types) if self.mask_type.with_node else 0
        edges = len(self.edge_types) if self.mask_type.with_edge else 0
        fixed = nodes + edges + (2 if self.mask_type == MaskLevelType.edge else 1)
        if len(args) < fixed:
            raise ValueError(f"{type(self).__name__} ({self.mask_type.value} mask) takes {fixed} inputs at least "
                             f"({nodes} node types, {edges} edge types, then the graph's dicts), got {len(args)}")
        if self.mask_type.with_node:
            x_dict = {t: _one_sample(x).squeeze(0) for t, x in zip(self.node_types, args[:nodes])}
        else:
            x_dict = args[edges]
        edge_index_dict = args[fixed - 1]
        if self.mask_type.with_edge:
            masks = {t: _one_sample(m).squeeze(0) for t, m in zip(self.edge_types, args[nodes:nodes + edges])}
            set_hetero_masks(self.model, masks, edge_index_dict, apply_sigmoid=False)
        return self.postprocess(self.model(x_dict, edge_index_dict, *args[fixed:]))


def to_captum_model(model: torch.nn.Module, mask_type: Union[str, MaskLevelType] = MaskLevelType.edge,
                    output_idx: Optional[int] = None, metadata: Optional[Metadata] = None) -> CaptumModel:
    """``model`` as a function Captum can attribute (``metadata``: dict inputs' types)."""
    if metadata is None:
        return CaptumModel(model, mask_type, output_idx)
    return CaptumHeteroModel(model, mask_type, output_idx, metadata)


def to_captum_input(x: Union[Tensor, Dict[NodeType, Tensor]], edge_index: Union[Tensor, Dict[EdgeType, Tensor]],
                    mask_type: Union[str, MaskLevelType], *args: Any) -> Tuple[Tuple[Tensor, ...], Tuple[Any, ...]]:
    """``(inputs, additional_forward_args)`` for Captum's ``attribute``: the attributed
    tensors with a batch dimension of one (edge masks of ones that need gradients), then what
    the model also takes (``x`` for edge masks, ``edge_index``, ``args``)."""
    mask_type = MaskLevelType(mask_type)
    if isinstance(x, Tensor) and isinstance(edge_index, Tensor):
        nodes, edges, x_arg = [x], [edge_index], x
    elif isinstance(x, dict) and isinstance(edge_index, dict):
        nodes, edges, x_arg = list(x.values()), list(edge_index.values()), x
    else:
        raise ValueError(f"'x' and 'edge_index' need to be both tensors or both dicts, got "
                         f"({type(x).__name__}, {type(edge_index).__name__})")
    inputs = [t.unsqueeze(0) for t in nodes] if mask_type.with_node else []
    if mask_type.with_edge:
        inputs += [torch.ones(e.size(1), requires_grad=True, device=e.device).unsqueeze(0) for e in edges]
    extra = [x_arg] if mask_type == MaskLevelType.edge else []
    return tuple(inputs), tuple(extra + [edge_index, *args])


def captum_output_to_dicts(captum_attrs: Sequence[Tensor], mask_type: Union[str, MaskLevelType],
                           metadata: Metadata) -> Tuple[Optional[Dict[NodeType, Tensor]], Optional[Dict[EdgeType, Tensor]]]:
    """Captum's attributions for dict inputs as ``(node_mask_dict, edge_mask_dict)``
    (``None`` for the kind not attributed)."""
    mask_type = MaskLevelType(mask_type)
    node_types, edge_types = list(metadata[0]), list(metadata[1])
    attrs = [a.squeeze(0) for a in captum_attrs]
    expected = (len(node_types) if mask_type.with_node else 0) + (len(edge_types) if mask_type.with_edge else 0)
    if len(attrs) != expected:
        raise ValueError(f"captum_output_to_dicts: {len(attrs)} attributions for a {mask_type.value} mask over "
                         f"{len(node_types)} node and {len(edge_types)} edge types (expected {expected})")
    nodes = len(node_types) if mask_type.with_node else 0
    node_dict = dict(zip(node_types, attrs[:nodes])) if mask_type.with_node else None
    edge_dict = dict(zip(edge_types, attrs[nodes:])) if mask_type.with_edge else None
    return node_dict, edge_dict


def convert_captum_output(captum_attrs: Sequence[Tensor], mask_type: Union[str, MaskLevelType],
                          metadata: Optional[Metadata] = None):
    """``(node_mask, edge_mask)`` (dicts where ``metadata`` is given) from Captum's attributions."""
    if metadata is not None:
        return captum_output_to_dicts(captum_attrs, mask_type, metadata)
    mask_type = MaskLevelType(mask_type)
    attrs = [a.squeeze(0) for a in captum_attrs]
    node_mask = attrs[0] if mask_type.with_node else None
    edge_mask = attrs[-1] if mask_type.with_edge else None
    return node_mask, edge_mask


def _one_sample(t: Tensor) -> Tensor:
    if t.size(0) != 1:
        raise ValueError(f"Captum's inputs here hold one sample (dimension 0 of size 1), got shape {list(t.shape)}; "
                         f"pass internal_batch_size=1 to the attribution method")
    return t
