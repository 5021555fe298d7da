r"""``to_hetero_with_bases``: a homogeneous model made heterogeneous by basis decomposition, as
PyG's (`"Modeling Relational Data with Graph Convolutional Networks"
<https://arxiv.org/abs/1703.06103>`_).

Where :func:`~gnnx.nn.to_hetero` makes one copy of each message-passing layer per relation,
this keeps ``num_bases`` copies per layer, shared by every relation: the node types are
stacked into one graph (in ``metadata`` order, edges renumbered), and relation :math:`r`'s
messages through basis :math:`b` are scaled by a learnt scalar :math:`a_{r, b}`,

.. math::
    \mathbf{h}_i = \sum_{b=1}^{B} f^{(b)}_{\oplus}\Big(\big\{a_{r(j, i), b}\,
    \phi^{(b)}(\mathbf{x}_i, \mathbf{x}_j) : j \in \mathcal{N}(i)\big\}\Big),

so the parameters grow with ``num_bases``, not with the number of relations. Every other
module is shared by all types. Node inputs of different widths are first projected to a
common one per input named in ``in_channels`` (``align_lin__<name>``, a lazy ``Linear`` per
type, as PyG's ``LinearAlign``).

PyG's structure and state-dict keys: each message-passing layer becomes a
:class:`HeteroBasisConv` (``conv1.convs.0.lin.weight``, ``conv1.convs.0.edge_type_weight``), so
a PyG ``to_hetero_with_bases`` model's state dict loads. PyG rewrites the traced graph; here
the model keeps its own ``forward``, wrapped to stack the dict inputs and split the outputs
by type. Inputs named like ``edge*`` / ``adj*`` are per relation, others per node type
(``input_map`` overrides, as PyG's). The scaling runs as a message hook, so each layer runs
its message path (PyG sets ``fuse = False`` for the same reason), and a layer that adds self
loops is refused, as PyG's, since its messages no longer match the relations.
"""
from __future__ import annotations

import copy
import inspect
import warnings
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.linear import Linear
from gnnx.nn.message_passing import MessagePassing
from gnnx.nn.to_hetero import EdgeType, Metadata, NodeType, key2str, warn_unused_types


def to_hetero_with_bases(module: torch.nn.Module, metadata: Metadata, num_bases: int,
                         in_channels: Optional[Dict[str, int]] = None, input_map: Optional[Dict[str, str]] = None,
                         debug: bool = False) -> torch.nn.Module:
    """``module`` (a homogeneous model) as a heterogeneous one with ``num_bases`` bases per
    message-passing layer, called with dicts per node type and relation (module docstring).

    Args:
        module: the homogeneous model (not changed; a copy is converted).
        metadata: ``(node_types, edge_types)``, e.g. ``graph.metadata()``.
        num_bases: the copies of each message-passing layer.
        in_channels: ``{input name: width}``: node inputs to project to a common width first.
        input_map: ``{input name: "node" | "edge"}``, where names do not say.
        debug: accepted for PyG's signature.
    """
    node_types, edge_types = list(metadata[0]), [tuple(e) for e in metadata[1]]
    if not node_types or not edge_types:
        raise ValueError("to_hetero_with_bases: metadata needs node types and edge types")
    if num_bases < 1:
        raise ValueError(f"to_hetero_with_bases: num_bases must be at least 1, got {num_bases}")
    _warn_like_pyg(node_types, edge_types)
    model = copy.deepcopy(module)
    _replace_message_passing(model, len(edge_types), num_bases)
    signature = inspect.signature(type(module).forward)
    names = list(signature.parameters)[1:]
    levels = {name: (input_map or {}).get(name, "edge" if "edge" in name or "adj" in name else "node")
              for name in names}
    for name, width in (in_channels or {}).items():
        keys = edge_types if levels.get(name) == "edge" else node_types
        model.add_module(f"align_lin__{name}", LinearAlign(keys, width))
    layout = _Layout(node_types, edge_types, levels, tuple((in_channels or {}).keys()), signature,
                     type(module).forward)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return _stacked_forward(self, layout, *args, **kwargs)

    forward.__signature__ = signature  # the model's own inputs, as export and gnnx.compile read them
    model.__class__ = type(type(module).__name__, (type(module),), {"forward": forward})
    return model


class _Layout:
    """What the wrapped forward needs: the types in order, each input's level, the inputs to
    align, the model's own signature and ``forward``."""

    def __init__(self, node_types: List[NodeType], edge_types: List[EdgeType], levels: Dict[str, str],
                 aligned: Tuple[str, ...], signature: inspect.Signature, forward: Any) -> None:
        self.node_types, self.edge_types, self.levels = node_types, edge_types, levels
        self.aligned, self.signature, self.forward = aligned, signature, forward


def _stacked_forward(self: torch.nn.Module, layout: _Layout, *args: Any, **kwargs: Any) -> Any:
    """The converted model's ``forward``: dict inputs stacked into one graph, the model's own
    forward over it, outputs split per type."""
    bound = layout.signature.bind(self, *args, **kwargs)
    arguments = dict(list(bound.arguments.items())[1:])
    node_offsets: Optional[Dict[NodeType, int]] = None
    edge_offsets: Optional[Dict[EdgeType, int]] = None
    edge_type = None
    for name, value in arguments.items():
        if not isinstance(value, dict):
            continue
        expected = layout.edge_types if layout.levels.get(name) == "edge" else layout.node_types
        missing = [key for key in expected if key not in value]
        if missing:
            raise ValueError(f"to_hetero_with_bases: {name} lacks {missing} (every type of the metadata is "
                             f"stacked into the one graph)")
        if name in layout.aligned:
            value = getattr(self, f"align_lin__{name}")(value)
        if layout.levels.get(name) == "edge":
            if edge_offsets is None:
                edge_offsets, edge_type = _edge_offsets(value, layout.edge_types)
            arguments[name] = _group_edges(value, layout.edge_types, node_offsets)
        else:
            if node_offsets is None:
                node_offsets = _offsets([value[t].size(-2) for t in layout.node_types], layout.node_types)
            arguments[name] = torch.cat([value[t] for t in layout.node_types], dim=-2)
    for basis in self.modules():
        if isinstance(basis, HeteroBasisConv):
            basis.edge_type = edge_type
    try:
        out = layout.forward(self, **arguments)
    finally:
        for basis in self.modules():
            if isinstance(basis, HeteroBasisConv):
                basis.edge_type = None
    return _split(out, node_offsets, edge_offsets)


def _warn_like_pyg(node_types: List[NodeType], edge_types: List[EdgeType]) -> None:
    warn_unused_types(node_types, edge_types)
    for name in node_types + [rel for _, rel, _ in edge_types]:
        if not name.isidentifier():
            warnings.warn(f"The type '{name}' contains invalid characters which may lead to unexpected behavior. "
                          f"To avoid any issues, ensure that your types only contain letters, numbers and "
                          f"underscores.", stacklevel=3)


def _replace_message_passing(model: torch.nn.Module, num_relations: int, num_bases: int) -> None:
    """Every outermost message-passing layer of ``model`` (the model itself excluded) in place
    by a :class:`HeteroBasisConv` of it."""
    for name, child in list(model.named_children()):
        if isinstance(child, MessagePassing):
            setattr(model, name, HeteroBasisConv(child, num_relations, num_bases))
        else:
            _replace_message_passing(child, num_relations, num_bases)


def _offsets(sizes: List[int], keys: List[Any]) -> Dict[Any, int]:
    out, total = {}, 0
    for key, size in zip(keys, sizes):
        out[key] = total
        total += size
    out[None] = total  # the end, for splitting
    return out


def _edge_rows(value: Tensor) -> int:
    return value.size(-1) if value.dim() == 2 and value.size(0) == 2 and value.dtype == torch.long else value.size(-2)


def _edge_offsets(value: Dict[EdgeType, Tensor], edge_types: List[EdgeType]) -> Tuple[Dict[Any, int], Tensor]:
    """The relations' offsets in the stacked edges, and each stacked edge's relation id."""
    rows = [_edge_rows(value[e]) for e in edge_types]
    device = value[edge_types[0]].device
    # one fill per relation (no tensor built from the sizes, which export would fix)
    edge_type = torch.cat([torch.full((count,), i, dtype=torch.long, device=device) for i, count in enumerate(rows)])
    return _offsets(rows, edge_types), edge_type


def _group_edges(value: Dict[EdgeType, Tensor], edge_types: List[EdgeType],
                 node_offsets: Optional[Dict[NodeType, int]]) -> Tensor:
    inputs = [value[e] for e in edge_types]
    if len(inputs) == 1:
        return inputs[0]
    if inputs[0].dim() == 2 and inputs[0].size(0) == 2 and inputs[0].dtype == torch.long:
        if node_offsets is None:
            raise ValueError("to_hetero_with_bases: cannot renumber the edges without a node input before them "
                             "in the forward's arguments (as PyG's)")
        return torch.cat([torch.stack([v[0] + node_offsets[src], v[1] + node_offsets[dst]])
                          for v, (src, _, dst) in zip(inputs, edge_types)], dim=-1)
    return torch.cat(inputs, dim=-2)


def _split(out: Any, node_offsets: Optional[Dict[Any, int]], edge_offsets: Optional[Dict[Any, int]]) -> Any:
    """Outputs per type: a tensor with the stacked nodes' rows per node type, with the stacked
    edges' rows per relation."""
    if isinstance(out, dict):
        return {k: _split(v, node_offsets, edge_offsets) for k, v in out.items()}
    if isinstance(out, (list, tuple)):
        return type(out)(_split(v, node_offsets, edge_offsets) for v in out)
    if not isinstance(out, Tensor) or out.dim() < 2:
        return out
    for offsets in (node_offsets, edge_offsets):
        if offsets is not None and out.size(-2) == offsets[None]:
            keys = [k for k in offsets if k is not None]
            ends = [offsets[k] for k in keys[1:]] + [offsets[None]]
            return {k: out.narrow(-2, offsets[k], end - offsets[k]) for k, end in zip(keys, ends)}
    return out


def _scale_messages(module: MessagePassing, inputs: Any, output: Tensor) -> Tensor:
    """The message hook: each message times its relation's weight in this basis (PyG's)."""
    edge_type = module._basis_edge_type
    if edge_type.size(0) != output.size(-2):
        raise ValueError(f"Number of messages ({output.size(0)}) does not match with the number of original "
                         f"edges ({edge_type.size(0)}). Does your message passing layer create additional "
                         f"self-loops? Try to remove them via 'add_self_loops=False'")
    weight = module.edge_type_weight.view(-1)[edge_type]
    return weight.view([1] * (output.dim() - 2) + [-1, 1]) * output


class HeteroBasisConv(torch.nn.Module):
    r"""``num_bases`` copies of a message-passing layer, each with a weight per relation that
    scales that relation's messages (``edge_type_weight [1, num_relations]``); the copies'
    outputs are summed. PyG's keys (``convs.<b>.<the layer's keys>``, ``convs.<b>.edge_type_weight``)."""

    def __init__(self, module: MessagePassing, num_relations: int, num_bases: int) -> None:
        super().__init__()
        self.num_relations, self.num_bases = num_relations, num_bases
        params = list(module.parameters())
        device = params[0].device if params else "cpu"
        self.convs = torch.nn.ModuleList()
        for _ in range(num_bases):
            conv = copy.deepcopy(module)
            conv.fuse = False
            conv.edge_type_weight = torch.nn.Parameter(torch.empty(1, num_relations, device=device))
            conv.register_message_forward_hook(_scale_messages)
            self.convs.append(conv)
        self.edge_type: Optional[Tensor] = None  # set per call by the converted model
        if num_bases > 1:
            self.reset_parameters()
        else:  # PyG leaves the one basis' weights uninitialised memory; here they are drawn
            for conv in self.convs:
                torch.nn.init.xavier_uniform_(conv.edge_type_weight)

    def reset_parameters(self) -> None:
        for conv in self.convs:
            if hasattr(conv, "reset_parameters"):
                conv.reset_parameters()
            elif sum(p.numel() for p in conv.parameters()) > 0:
                warnings.warn(f"'{conv}' will be duplicated, but its parameters cannot be reset. To suppress this "
                              f"warning, add a 'reset_parameters()' method to '{conv}'", stacklevel=2)
            torch.nn.init.xavier_uniform_(conv.edge_type_weight)

    def forward(self, *args: Any, **kwargs: Any) -> Tensor:
        if self.edge_type is None:
            raise RuntimeError("HeteroBasisConv runs inside a model made by to_hetero_with_bases (which passes "
                               "each edge's relation)")
        out = None
        for conv in self.convs:
            conv._basis_edge_type = self.edge_type
            try:
                res = conv(*args, **kwargs)
            finally:
                del conv._basis_edge_type
            out = res if out is None else out + res
        return out

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_relations={self.num_relations}, num_bases={self.num_bases})"


class LinearAlign(torch.nn.Module):
    """A lazy bias-free ``Linear`` per type to ``out_channels`` (PyG's), applied to a dict."""

    def __init__(self, keys: List[Union[NodeType, EdgeType]], out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.lins = torch.nn.ModuleDict({key2str(key): Linear(-1, out_channels, bias=False) for key in keys})

    def forward(self, x_dict: Dict[Union[NodeType, EdgeType], Tensor]) -> Dict[Union[NodeType, EdgeType], Tensor]:
        return {key: self.lins[key2str(key)](x) for key, x in x_dict.items()}

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_relations={len(self.lins)}, out_channels={self.out_channels})"
