"""``HeteroGraph``: several node and edge types, keyed as PyG's ``HeteroData``.

::

    graph = gnnx.HeteroGraph()
    graph["paper"].x = torch.randn(100, 16)
    graph["author"].num_nodes = 40
    graph["author", "writes", "paper"].edge_index = edge_index      # [2, E]: author -> paper
    graph.validate()                                                 # named errors
    graph.metadata()      # (["paper", "author"], [("author", "writes", "paper")])
    graph.x_dict, graph.edge_index_dict                              # the inputs of hetero layers

A node store holds ``x``, ``num_nodes`` and any attribute; an edge store ``edge_index``,
``edge_attr``, ... Edge types may be named by their relation alone (``graph["writes"]``) or
by ``(source, destination)`` when that is unambiguous, as in PyG. Each edge type's
destination-sorted CSR is built once, on request (:meth:`HeteroGraph.csr`). Converts from and
to ``torch_geometric.data.HeteroData`` when PyG is installed.
"""
from __future__ import annotations

from typing import Any, Dict, Iterator, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.graph import CSR, _check_finite, build_csr, storable, version_of

NodeType = str
EdgeType = Tuple[str, str, str]


class Store:
    """Named attributes of one node or edge type (``store.x``, ``store["x"]``)."""

    def __init__(self, key: Union[NodeType, EdgeType], **attributes: Any) -> None:
        object.__setattr__(self, "_key", key)
        object.__setattr__(self, "_data", dict(attributes))

    def __getattr__(self, name: str) -> Any:
        try:
            return self.__dict__["_data"][name]
        except KeyError:
            if name.startswith("_"):
                raise AttributeError(name) from None
            return None  # PyG's stores answer None for an absent attribute

    def __setattr__(self, name: str, value: Any) -> None:
        if value is None:
            self._data.pop(name, None)
        else:
            self._data[name] = value

    def __getitem__(self, name: str) -> Any:
        return self._data[name]

    def __setitem__(self, name: str, value: Any) -> None:
        setattr(self, name, value)

    def __contains__(self, name: str) -> bool:
        return name in self._data

    def get(self, name: str, default: Any = None) -> Any:
        return self._data.get(name, default)

    def keys(self) -> List[str]:
        return list(self._data)

    def items(self) -> List[Tuple[str, Any]]:
        return list(self._data.items())

    def _moved(self, device: Any, non_blocking: bool = False) -> Dict[str, Any]:
        return {k: v.to(device, non_blocking=non_blocking) if isinstance(v, Tensor) else v
                for k, v in self._data.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={list(v.shape) if isinstance(v, Tensor) else v}" for k, v in self._data.items())
        return f"{self._key}: {{{inner}}}"


class NodeStore(Store):
    @property
    def num_nodes(self) -> Optional[int]:
        """Explicit ``num_nodes``, else the rows of ``x`` (or of another node tensor)."""
        if "num_nodes" in self._data:
            return int(self._data["num_nodes"])
        for value in self._data.values():
            if isinstance(value, Tensor) and value.dim() > 0:
                return value.size(0)
        return None

    @num_nodes.setter
    def num_nodes(self, value: int) -> None:
        self._data["num_nodes"] = int(value)


class EdgeStore(Store):
    @property
    def num_edges(self) -> int:
        edge_index = self._data.get("edge_index")
        return 0 if edge_index is None else edge_index.size(1)


class HeteroGraph:
    """Node and edge stores keyed by type; see the module docstring.

    Args:
        x_dict, edge_index_dict, num_nodes_dict, edge_attr_dict: the stores as dictionaries
            (optional; attributes can also be set per store).
        validate: check the stores given here (call :meth:`validate` after building one up).
    """

    def __init__(self, x_dict: Optional[Dict[NodeType, Tensor]] = None,
                 edge_index_dict: Optional[Dict[EdgeType, Tensor]] = None,
                 num_nodes_dict: Optional[Dict[NodeType, int]] = None,
                 edge_attr_dict: Optional[Dict[EdgeType, Tensor]] = None, validate: bool = True) -> None:
        self._nodes: Dict[NodeType, NodeStore] = {}
        self._edges: Dict[EdgeType, EdgeStore] = {}
        # edge type -> (edge_index it was built from, that tensor's version, sizes, CSR)
        self._csr: Dict[EdgeType, Tuple[Tensor, int, Tuple[Optional[int], Optional[int]], CSR]] = {}
        for node_type, x in (x_dict or {}).items():
            self[node_type].x = x
        for node_type, count in (num_nodes_dict or {}).items():
            self[node_type].num_nodes = count
        for edge_type, edge_index in (edge_index_dict or {}).items():
            self[edge_type].edge_index = edge_index
        for edge_type, edge_attr in (edge_attr_dict or {}).items():
            self[edge_type].edge_attr = edge_attr
        if validate and (self._nodes or self._edges):
            self.validate()

    # -- access ---------------------------------------------------------------------------------
    def __getitem__(self, key: Union[str, Tuple[str, ...]]) -> Union[NodeStore, EdgeStore]:
        if isinstance(key, str) and key not in self._nodes and any(rel == key for _, rel, _ in self._edges):
            return self._edges[self._edge_type(key)]
        if isinstance(key, str):
            if key not in self._nodes:
                self._nodes[key] = NodeStore(key)
            return self._nodes[key]
        edge_type = self._edge_type(key)
        if edge_type not in self._edges:
            self._edges[edge_type] = EdgeStore(edge_type)
            for node_type in (edge_type[0], edge_type[2]):
                self[node_type]
        return self._edges[edge_type]

    def _edge_type(self, key: Union[str, Tuple[str, ...]]) -> EdgeType:
        if isinstance(key, tuple) and len(key) == 3:
            return key  # type: ignore[return-value]
        if isinstance(key, str):
            matches = [t for t in self._edges if t[1] == key]
        elif isinstance(key, tuple) and len(key) == 2:
            matches = [t for t in self._edges if (t[0], t[2]) == key]
        else:
            raise KeyError(f"a node type, an edge type (src, relation, dst), a relation or (src, dst); got {key!r}")
        if len(matches) != 1:
            raise KeyError(f"{key!r} names {'no' if not matches else 'more than one'} edge type "
                           f"({matches or list(self._edges)}); use (src, relation, dst)")
        return matches[0]

    def __contains__(self, key: Union[str, EdgeType]) -> bool:
        return key in self._nodes or key in self._edges

    @property
    def node_types(self) -> List[NodeType]:
        return list(self._nodes)

    @property
    def edge_types(self) -> List[EdgeType]:
        return list(self._edges)

    def metadata(self) -> Tuple[List[NodeType], List[EdgeType]]:
        """``(node_types, edge_types)``, as PyG's ``HeteroData.metadata()``."""
        return self.node_types, self.edge_types

    def node_items(self) -> Iterator[Tuple[NodeType, NodeStore]]:
        return iter(self._nodes.items())

    def edge_items(self) -> Iterator[Tuple[EdgeType, EdgeStore]]:
        return iter(self._edges.items())

    def collect(self, name: str) -> Dict[Union[NodeType, EdgeType], Any]:
        """``{type: store.<name>}`` over the stores that hold ``name``."""
        stores = list(self._nodes.items()) + list(self._edges.items())
        return {key: store[name] for key, store in stores if name in store}

    def __getattr__(self, name: str) -> Any:
        # PyG's ``<attribute>_dict`` for any attribute (``num_sampled_nodes_dict``, ``y_dict``)
        if name.endswith("_dict") and not name.startswith("_"):
            return self.collect(name[:-5])
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def x_dict(self) -> Dict[NodeType, Tensor]:
        return self.collect("x")

    @property
    def edge_index_dict(self) -> Dict[EdgeType, Tensor]:
        return self.collect("edge_index")

    @property
    def edge_attr_dict(self) -> Dict[EdgeType, Tensor]:
        return self.collect("edge_attr")

    @property
    def num_nodes_dict(self) -> Dict[NodeType, Optional[int]]:
        return {key: store.num_nodes for key, store in self._nodes.items()}

    @property
    def num_nodes(self) -> int:
        return sum(n or 0 for n in self.num_nodes_dict.values())

    @property
    def num_edges(self) -> int:
        return sum(store.num_edges for store in self._edges.values())

    def csr(self, edge_type: Union[str, Tuple[str, ...]]) -> CSR:
        """The edge type's CSR sorted by destination, built once (rows: destination nodes)."""
        edge_type = self._edge_type(edge_type)
        edge_index = self._edges[edge_type].edge_index
        sizes = (self._nodes[edge_type[2]].num_nodes, self._nodes[edge_type[0]].num_nodes)
        cached = self._csr.get(edge_type)
        # Rebuilt only when the store holds another tensor, the tensor was edited in place, or
        # a node count changed.
        version = version_of(edge_index)
        if version is None:  # an inference tensor: no version counter to see edits by, so not kept
            return build_csr(edge_index, *sizes)
        if cached is None or cached[0] is not edge_index or cached[1] != version or cached[2] != sizes:
            with storable():
                cached = (edge_index, version, sizes, build_csr(edge_index, *sizes))
            self._csr[edge_type] = cached
        return cached[3]

    # -- checks and moves -------------------------------------------------------------------------
    def validate(self) -> "HeteroGraph":
        """Raise ``TypeError``/``ValueError`` naming the type and field of the first problem."""
        for node_type, store in self._nodes.items():
            count = store.num_nodes
            if count is None:
                raise ValueError(f"node type {node_type!r} has no x and no num_nodes")
            for name, value in store.items():
                if isinstance(value, Tensor) and value.dim() > 0:
                    if value.size(0) != count:
                        raise ValueError(f"{node_type!r}.{name} must have num_nodes={count} rows, "
                                         f"got shape {list(value.shape)}")
                    _check_finite(f"{node_type!r}.{name}", value)
        for edge_type, store in self._edges.items():
            edge_index = store.edge_index
            if not isinstance(edge_index, Tensor):
                raise TypeError(f"{edge_type}.edge_index must be a torch.Tensor, got {type(edge_index).__name__}")
            if edge_index.dtype != torch.long or edge_index.dim() != 2 or edge_index.size(0) != 2:
                raise ValueError(f"{edge_type}.edge_index must be int64 of shape [2, E], "
                                 f"got {edge_index.dtype} {list(edge_index.shape)}")
            for row, node_type in ((0, edge_type[0]), (1, edge_type[2])):
                count = self._nodes[node_type].num_nodes
                if edge_index.size(1) and (int(edge_index[row].min()) < 0 or int(edge_index[row].max()) >= count):
                    bad = int(((edge_index[row] < 0) | (edge_index[row] >= count)).nonzero()[0])
                    raise ValueError(f"{edge_type}.edge_index[{row}] holds {int(edge_index[row, bad])} (edge {bad}), "
                                     f"outside the {count} {node_type!r} nodes")
            for name, value in store.items():
                if name != "edge_index" and isinstance(value, Tensor) and value.dim() > 0:
                    if value.size(0) != store.num_edges:
                        raise ValueError(f"{edge_type}.{name} must have num_edges={store.num_edges} rows, "
                                         f"got shape {list(value.shape)}")
                    _check_finite(f"{edge_type}.{name}", value)
        return self

    def to(self, device: Any, non_blocking: bool = False) -> "HeteroGraph":
        out = type(self)()
        for key, store in self._nodes.items():
            out._nodes[key] = NodeStore(key, **store._moved(device, non_blocking))
        for key, store in self._edges.items():
            out._edges[key] = EdgeStore(key, **store._moved(device, non_blocking))
        for key, value in self._graph_attributes().items():
            setattr(out, key, value.to(device, non_blocking=non_blocking) if isinstance(value, Tensor) else value)
        return out

    def copy(self) -> "HeteroGraph":
        """A new graph sharing the tensors (stores copied, so setting an attribute does not leak)."""
        out = type(self)()
        out._nodes = {k: NodeStore(k, **s._data) for k, s in self._nodes.items()}
        out._edges = {k: EdgeStore(k, **s._data) for k, s in self._edges.items()}
        out.__dict__.update(self._graph_attributes())
        return out

    def _graph_attributes(self) -> Dict[str, Any]:
        """Attributes of the whole graph (a batch's ``input_type``, ``num_graphs``), set on it
        as on PyG's ``HeteroData``."""
        return {k: v for k, v in self.__dict__.items() if not k.startswith("_")}

    # -- PyG -----------------------------------------------------------------------------------------
    @classmethod
    def from_pyg(cls, data: Any, validate: bool = True) -> "HeteroGraph":
        """From ``torch_geometric.data.HeteroData`` (tensors shared, every attribute kept;
        ``validate=False`` skips the checks, as loaders do for PyG's own datasets)."""
        out = cls()
        for node_type in data.node_types:
            store = data[node_type]
            for name in store.keys():
                setattr(out[node_type], name, store[name])
            if "num_nodes" not in store and store.num_nodes is not None and "x" not in store:
                out[node_type].num_nodes = store.num_nodes
        for edge_type in data.edge_types:
            store = data[edge_type]
            for name in store.keys():
                setattr(out[edge_type], name, store[name])
        return out.validate() if validate else out

    def to_pyg(self) -> Any:
        """As ``torch_geometric.data.HeteroData``."""
        from torch_geometric.data import HeteroData

        data = HeteroData()
        for key, store in list(self._nodes.items()) + list(self._edges.items()):
            for name, value in store.items():
                data[key][name] = value
        return data

    def __repr__(self) -> str:
        stores = [repr(s) for s in list(self._nodes.values()) + list(self._edges.values())]
        return "HeteroGraph(\n  " + ",\n  ".join(stores) + "\n)"


torch.serialization.add_safe_globals([HeteroGraph, NodeStore, EdgeStore])  # torch.load(weights_only=True)
