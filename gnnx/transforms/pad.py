"""PyG's ``Pad``: every graph padded to the same node and edge counts, so a model compiled
for static shapes (``torch.compile(dynamic=False)``, an exported program without dynamic
dimensions, a CUDA graph) serves a whole dataset with one shape.

Node tensors (``x``, ``pos``, node-level ``y``, ``batch``, masks and any attribute with a row
per node) get ``max_num_nodes - num_nodes`` rows of their padding value (``train_mask``,
``val_mask``, ``test_mask`` get ``mask_pad_value``); edge tensors (``edge_attr``,
``edge_weight``, any attribute with a row per edge) get rows up to ``max_num_edges``
(default ``max_num_nodes ** 2``, as PyG's), and the padded edges are self loops of the first
padded node, so they touch no real node. ``add_pad_mask=True`` attaches ``pad_node_mask`` and
``pad_edge_mask`` (True for real rows). Padding values are uniform or vary by attribute name
(:class:`AttrNamePadding`) and, in a :class:`~gnnx.HeteroGraph`, by node or edge type
(:class:`NodeTypePadding`, :class:`EdgeTypePadding`), as PyG's.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Tuple, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.graph import EDGE_ATTRS, Graph, attribute_kind
from gnnx.hetero_graph import HeteroGraph
from gnnx.transforms.transform import BaseTransform

NodeType = str
EdgeType = Tuple[str, str, str]
Number = Union[int, float]
MASKS = ("train_mask", "val_mask", "test_mask")


class Padding(ABC):
    """A padding value per node or edge type and attribute name."""

    @abstractmethod
    def get_value(self, store_type: Optional[Union[NodeType, EdgeType]] = None,
                  attr_name: Optional[str] = None) -> Number:
        """The value to pad ``attr_name`` of ``store_type`` with."""


class UniformPadding(Padding):
    """One value for every attribute and type."""

    def __init__(self, value: Number = 0.0) -> None:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"Expected 'value' to be an integer or float (got '{type(value)}')")
        self.value = value

    def get_value(self, store_type=None, attr_name=None) -> Number:
        return self.value

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, UniformPadding) and other.value == self.value

    def __repr__(self) -> str:
        return f"UniformPadding(value={self.value})"


class MappingPadding(Padding):
    """Values by key (attribute name, node type or edge type), ``default`` for the rest."""

    def __init__(self, values: Dict[Any, Union[Number, Padding]], default: Number = 0.0) -> None:
        if not isinstance(values, dict):
            raise ValueError(f"Expected 'values' to be a dictionary (got '{type(values)}')")
        self.values = {key: UniformPadding(value) if isinstance(value, (int, float)) else value
                       for key, value in values.items()}
        self.default = UniformPadding(default)
        for key, value in self.values.items():
            self.validate_key_value(key, value)

    def validate_key_value(self, key: Any, value: Any) -> None:
        pass

    def __repr__(self) -> str:
        return f"{type(self).__name__}(values={self.values}, default={self.default})"


class AttrNamePadding(MappingPadding):
    """Values by attribute name (``{"x": -1.0}``)."""

    def validate_key_value(self, key: Any, value: Any) -> None:
        if not isinstance(key, str):
            raise ValueError(f"Expected the attribute name '{key}' to be a string (got '{type(key)}')")
        if not isinstance(value, UniformPadding):
            raise ValueError(f"Expected the value of '{key}' to be of type 'UniformPadding' (got '{type(value)}')")

    def get_value(self, store_type=None, attr_name=None) -> Number:
        return self.values.get(attr_name, self.default).get_value()


class _TypePadding(MappingPadding):
    kind = ""

    def validate_key_value(self, key: Any, value: Any) -> None:
        self.validate_type(key)
        if not isinstance(value, (UniformPadding, AttrNamePadding)):
            raise ValueError(f"Expected the value of '{key}' to be of type 'UniformPadding' or 'AttrNamePadding' "
                             f"(got '{type(value)}')")

    def validate_type(self, key: Any) -> None:
        pass

    def get_value(self, store_type=None, attr_name=None) -> Number:
        return self.values.get(store_type, self.default).get_value(attr_name=attr_name)


class NodeTypePadding(_TypePadding):
    """Values by node type, each uniform or by attribute name."""

    def validate_type(self, key: Any) -> None:
        if not isinstance(key, str):
            raise ValueError(f"Expected the node type '{key}' to be a string (got '{type(key)}')")


class EdgeTypePadding(_TypePadding):
    """Values by edge type ``(source, relation, destination)``, each uniform or by attribute name."""

    def validate_type(self, key: Any) -> None:
        if not isinstance(key, tuple):
            raise ValueError(f"Expected the edge type '{key}' to be a tuple (got '{type(key)}')")
        if len(key) != 3:
            raise ValueError(f"Expected the edge type '{key}' to hold exactly three elements (got {len(key)})")


def _as_padding(value: Union[Number, Padding]) -> Padding:
    return value if isinstance(value, Padding) else UniformPadding(value)


def _pad_rows(value: Tensor, rows: int, fill: Number) -> Tensor:
    if rows == 0:
        return value
    if value.dtype == torch.bool:
        return torch.cat([value, value.new_full((rows,) + tuple(value.shape[1:]), bool(fill))])
    return F.pad(value, [0, 0] * (value.dim() - 1) + [0, rows], "constant", fill)


class Pad(BaseTransform):
    """Pad nodes to ``max_num_nodes`` and edges to ``max_num_edges`` (PyG's arguments; dicts
    per node and edge type for a :class:`~gnnx.HeteroGraph`; module docstring).

    A graph larger than the target, or one whose edges need padding while ``max_num_nodes``
    leaves no padded node for them to join, raises ``ValueError`` naming the counts (PyG's
    would point such edges at a node that does not exist).
    """

    def __init__(self, max_num_nodes: Union[int, Dict[NodeType, int]],
                 max_num_edges: Optional[Union[int, Dict[EdgeType, int]]] = None,
                 node_pad_value: Union[Number, Padding] = 0.0, edge_pad_value: Union[Number, Padding] = 0.0,
                 mask_pad_value: bool = False, add_pad_mask: bool = False,
                 exclude_keys: Optional[List[str]] = None) -> None:
        self.max_num_nodes = max_num_nodes
        if max_num_edges is None:  # PyG's default: every pair of nodes
            max_num_edges = max_num_nodes * max_num_nodes if isinstance(max_num_nodes, int) else {}
        self.max_num_edges = max_num_edges
        self.node_pad, self.edge_pad = _as_padding(node_pad_value), _as_padding(edge_pad_value)
        self.mask_pad_value, self.add_pad_mask = mask_pad_value, add_pad_mask
        self.exclude_keys = set(exclude_keys or [])

    def _nodes(self, node_type: Optional[NodeType]) -> int:
        if node_type is None or isinstance(self.max_num_nodes, int):
            return self.max_num_nodes
        if node_type not in self.max_num_nodes:
            raise ValueError(f"Pad: max_num_nodes has no entry for node type '{node_type}'")
        return self.max_num_nodes[node_type]

    def _edges(self, edge_type: Optional[EdgeType]) -> int:
        if edge_type is None or isinstance(self.max_num_edges, int):
            return self.max_num_edges
        if edge_type not in self.max_num_edges:  # PyG's: every (source, destination) pair
            return self._nodes(edge_type[0]) * self._nodes(edge_type[2])
        return self.max_num_edges[edge_type]

    def _node_fill(self, name: str, node_type: Optional[NodeType]) -> Number:
        return self.mask_pad_value if name in MASKS else self.node_pad.get_value(node_type, name)

    def _counts(self, what: str, have: int, target: int, where: str) -> int:
        if target < have:
            raise ValueError(f"Pad: the number of {what} after padding ({target}) cannot be lower than the number of "
                             f"{what} in the graph ({have}){where}")
        return target - have

    # -- Graph --------------------------------------------------------------------------------
    def forward(self, data: Union[Graph, HeteroGraph]) -> Union[Graph, HeteroGraph]:
        if isinstance(data, HeteroGraph):
            return self._hetero(data)
        if any(isinstance(p, (NodeTypePadding, EdgeTypePadding)) for p in (self.node_pad, self.edge_pad)):
            raise ValueError("Pad: NodeTypePadding and EdgeTypePadding apply to a HeteroGraph, not a Graph")
        num_nodes, num_edges = data.num_nodes, data.num_edges
        pad_nodes = self._counts("nodes", num_nodes, self._nodes(None), "")
        pad_edges = self._counts("edges", num_edges, self._edges(None), "")
        if pad_edges and not pad_nodes:
            raise ValueError(f"Pad: {pad_edges} padded edges need a padded node to join, but max_num_nodes "
                             f"({num_nodes}) equals the graph's node count")
        fields = {"x": data.x, "y": data.y, "pos": data.pos, "batch": data.batch,
                  **{name: getattr(data, name) for name in EDGE_ATTRS}, **data.attrs}
        changes: Dict[str, Any] = {name: None for name in self.exclude_keys if name in fields}
        for name, value in fields.items():
            kind = attribute_kind(name, value, num_nodes, num_edges)
            if name in self.exclude_keys or kind is None:
                continue
            if kind == "edge":
                changes[name] = _pad_rows(value, pad_edges, self.edge_pad.get_value(None, name))
            else:
                changes[name] = _pad_rows(value, pad_nodes, self._node_fill(name, None))
        changes["edge_index"] = _pad_rows(data.edge_index.t(), pad_edges, num_nodes).t()
        if self.add_pad_mask:
            changes["pad_node_mask"] = torch.arange(num_nodes + pad_nodes) < num_nodes
            changes["pad_edge_mask"] = torch.arange(num_edges + pad_edges) < num_edges
        return data.replace(**changes, num_nodes=num_nodes + pad_nodes)

    # -- HeteroGraph ------------------------------------------------------------------------------
    def _hetero(self, data: HeteroGraph) -> HeteroGraph:
        num_nodes = {node_type: store.num_nodes for node_type, store in data.node_items()}
        for edge_type, store in data.edge_items():
            src, _, dst = edge_type
            num_edges = store.num_edges
            pad = self._counts("edges", num_edges, self._edges(edge_type), f" of type {edge_type}")
            for name in self.exclude_keys:
                store[name] = None
            for name, value in store.items():
                if name == "edge_index":
                    if pad and (num_nodes[src] == self._nodes(src) or num_nodes[dst] == self._nodes(dst)):
                        raise ValueError(f"Pad: {pad} padded edges of type {edge_type} need padded '{src}' and "
                                         f"'{dst}' nodes to join")
                    padded = _pad_rows(value.t(), pad, num_nodes[src]).t()
                    padded[1, num_edges:] = num_nodes[dst]
                    store[name] = padded
                elif isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == num_edges:
                    store[name] = _pad_rows(value, pad, self.edge_pad.get_value(edge_type, name))
            if self.add_pad_mask:
                store["pad_edge_mask"] = torch.arange(num_edges + pad) < num_edges
        for node_type, store in data.node_items():
            have = num_nodes[node_type]
            pad = self._counts("nodes", have, self._nodes(node_type), f" of type '{node_type}'")
            for name in self.exclude_keys:
                store[name] = None
            for name, value in store.items():
                if isinstance(value, Tensor) and value.dim() > 0 and value.size(0) == have:
                    store[name] = _pad_rows(value, pad, self._node_fill(name, node_type))
            if self.add_pad_mask:
                store["pad_node_mask"] = torch.arange(have + pad) < have
            store.num_nodes = have + pad
        return data

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(max_num_nodes={self.max_num_nodes}, max_num_edges={self.max_num_edges}, "
                f"node_pad_value={self.node_pad}, edge_pad_value={self.edge_pad})")
