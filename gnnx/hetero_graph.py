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

import warnings
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

    def values(self) -> List[Any]:
        return list(self._data.values())

    def __len__(self) -> int:
        return len(self._data)

    def __iter__(self) -> Iterator[str]:
        return iter(list(self._data))

    def __eq__(self, other: Any) -> bool:  # as PyG's stores (mappings): the same attributes, each the same value
        if not isinstance(other, Store) or self.keys() != other.keys():
            return False
        return all(a is b or (not isinstance(a, Tensor) and a == b) for a, b in zip(self.values(), other.values()))

    __hash__ = None  # type: ignore[assignment]  # mutable, compared by value

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
        for name in ("x", "pos"):  # the node tables first, as PyG reads them (a [1, F] mask is not a count)
            value = self._data.get(name)
            if isinstance(value, Tensor) and value.dim() > 0:
                return value.size(0)
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
        mapping, **kwargs: PyG's ``HeteroData`` construction: ``{node_type: {name: value}}``,
            ``{edge_type: {...}}`` (edge types as tuples or ``"src__rel__dst"`` /
            ``"src__dst"`` names), other values graph-level attributes.
        x_dict, edge_index_dict, num_nodes_dict, edge_attr_dict: the stores as dictionaries
            (optional; attributes can also be set per store).
        validate: check the stores given by the dictionaries (call :meth:`validate` after
            building one up).

    Graph-level attributes (``graph.input_type``, ``graph.num_graphs``) are set on the graph
    itself, as on PyG's ``HeteroData``, and move and copy with it.
    """

    def __init__(self, mapping: Optional[Dict[Any, Any]] = None, *, x_dict: Optional[Dict[NodeType, Tensor]] = None,
                 edge_index_dict: Optional[Dict[EdgeType, Tensor]] = None,
                 num_nodes_dict: Optional[Dict[NodeType, int]] = None,
                 edge_attr_dict: Optional[Dict[EdgeType, Tensor]] = None, validate: bool = True,
                 **kwargs: Any) -> None:
        self._nodes: Dict[NodeType, NodeStore] = {}
        self._edges: Dict[EdgeType, EdgeStore] = {}
        self._attributes: Dict[str, Any] = {}
        # edge type -> (edge_index it was built from, that tensor's version, sizes, CSR)
        self._csr: Dict[EdgeType, Tuple[Tensor, int, Tuple[Optional[int], Optional[int]], CSR]] = {}
        for key, value in {**(mapping or {}), **kwargs}.items():
            if isinstance(key, str) and "__" in key:
                key = tuple(key.split("__"))
            if isinstance(value, dict):
                for name, item in value.items():
                    setattr(self[key], name, item)
            else:
                setattr(self, key, value)
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

    # -- graph-level attributes (PyG's global store) ----------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if name.startswith("_") or hasattr(type(self), name):
            object.__setattr__(self, name, value)
        elif value is None:
            self.__dict__.setdefault("_attributes", {}).pop(name, None)
        else:
            self.__dict__.setdefault("_attributes", {})[name] = value

    def __delattr__(self, name: str) -> None:
        if name in self.__dict__.get("_attributes", {}):
            del self._attributes[name]
        else:
            object.__delattr__(self, name)

    def __bool__(self) -> bool:  # a graph is truthy even with no attributes (len() counts them, as PyG's)
        return True

    # -- access ---------------------------------------------------------------------------------
    def __getitem__(self, key: Union[str, Tuple[str, ...]]) -> Any:
        if isinstance(key, str) and key not in self._nodes and key in self.__dict__.get("_attributes", {}):
            return self._attributes[key]  # a graph-level attribute, as data["y"] in PyG
        if isinstance(key, str) and key not in self._nodes and any(rel == key for _, rel, _ in self._edges):
            return self._edges[self._edge_type(key)]
        if isinstance(key, str):
            if key not in self._nodes:
                self._nodes[key] = NodeStore(key)
            return self._nodes[key]
        edge_type = self._edge_type(key, create=True)
        if edge_type not in self._edges:
            self._edges[edge_type] = EdgeStore(edge_type)
            for node_type in (edge_type[0], edge_type[2]):
                self[node_type]
        return self._edges[edge_type]

    def __setitem__(self, key: str, value: Any) -> None:
        """``graph["y"] = value``: a graph-level attribute, as PyG's."""
        if not isinstance(key, str) or isinstance(value, Store):
            raise KeyError(f"set attributes of a store (graph[{key!r}].name = value), got graph[{key!r}] = ...")
        setattr(self, key, value)

    def __delitem__(self, key: Union[str, Tuple[str, ...]]) -> None:
        """Remove a node type, an edge type or a graph-level attribute."""
        if isinstance(key, str) and key in self._nodes:
            del self._nodes[key]
        elif isinstance(key, str) and key in self._attributes:
            del self._attributes[key]
        else:
            edge_type = self._edge_type(key)
            self._edges.pop(edge_type, None)
            self._csr.pop(edge_type, None)

    def _edge_type(self, key: Union[str, Tuple[str, ...]], create: bool = False) -> EdgeType:
        if isinstance(key, tuple) and len(key) == 3:
            return key  # type: ignore[return-value]
        if isinstance(key, str):
            matches = [t for t in self._edges if t[1] == key]
        elif isinstance(key, tuple) and len(key) == 2:
            matches = [t for t in self._edges if (t[0], t[2]) == key]
            if not matches and create:  # PyG's default relation for a new (src, dst) type
                return (key[0], "to", key[1])
        else:
            raise KeyError(f"a node type, an edge type (src, relation, dst), a relation or (src, dst); got {key!r}")
        if len(matches) != 1:
            raise KeyError(f"{key!r} names {'no' if not matches else 'more than one'} edge type "
                           f"({matches or list(self._edges)}); use (src, relation, dst)")
        return matches[0]

    def __contains__(self, key: Union[str, EdgeType]) -> bool:
        """A node or edge type, or an attribute name held by the graph or any store (PyG's ``"x" in data``)."""
        return key in self._nodes or key in self._edges or (isinstance(key, str) and key in self.keys())

    def keys(self) -> List[str]:
        """The attribute names across the graph and every store, each once (PyG's ``keys()``)."""
        names = list(self._attributes)
        for store in self.stores:
            names += [name for name in store.keys() if name not in names]
        return names

    def __len__(self) -> int:
        return len(self.keys())

    @property
    def node_stores(self) -> List[NodeStore]:
        return list(self._nodes.values())

    @property
    def edge_stores(self) -> List[EdgeStore]:
        return list(self._edges.values())

    @property
    def stores(self) -> List[Store]:
        return self.node_stores + self.edge_stores

    def node_attrs(self) -> List[str]:
        """Attribute names held by node stores (PyG's)."""
        return sorted({name for store in self._nodes.values() for name in store.keys()})

    def edge_attrs(self) -> List[str]:
        """Attribute names held by edge stores (PyG's)."""
        return sorted({name for store in self._edges.values() for name in store.keys()})

    @property
    def num_node_features(self) -> Dict[NodeType, int]:
        """Per node type the width of ``x`` (0 without one; 1 for a 1-D ``x``), as PyG's."""
        return {key: feature_width(store.get("x")) for key, store in self._nodes.items()}

    @property
    def num_features(self) -> Dict[NodeType, int]:
        return self.num_node_features

    @property
    def num_edge_features(self) -> Dict[EdgeType, int]:
        return {key: feature_width(store.get("edge_attr")) for key, store in self._edges.items()}

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

    def collect(self, name: str, allow_empty: bool = False) -> Dict[Union[NodeType, EdgeType], Any]:
        """``{type: store.<name>}`` over the stores that hold ``name``; a ``KeyError`` if none
        does, unless ``allow_empty`` (PyG's)."""
        stores = list(self._nodes.items()) + list(self._edges.items())
        out = {key: store[name] for key, store in stores if name in store}
        if not out and not allow_empty:
            raise KeyError(f"Tried to collect '{name}' but did not find any occurrences of it in any node and/or "
                           "edge type")
        return out

    def set_value_dict(self, name: str, values: Optional[Dict[Union[NodeType, EdgeType], Any]]) -> "HeteroGraph":
        """``self[key].<name> = value`` for each entry (PyG's; ``None``: none)."""
        for key, value in (values or {}).items():
            setattr(self[key], name, value)
        return self

    def __getattr__(self, name: str) -> Any:
        attributes = self.__dict__.get("_attributes", {})
        if name in attributes:
            return attributes[name]
        # PyG's ``<attribute>_dict`` for any attribute (``num_sampled_nodes_dict``, ``y_dict``)
        if name.endswith("_dict") and not name.startswith("_"):
            return self.collect(name[:-5], allow_empty=True)
        raise AttributeError(f"{type(self).__name__} has no attribute {name!r}")

    @property
    def x_dict(self) -> Dict[NodeType, Tensor]:
        return self.collect("x", allow_empty=True)

    @property
    def edge_index_dict(self) -> Dict[EdgeType, Tensor]:
        return self.collect("edge_index", allow_empty=True)

    @property
    def edge_attr_dict(self) -> Dict[EdgeType, Tensor]:
        return self.collect("edge_attr", allow_empty=True)

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
    def validate(self, raise_on_error: bool = True) -> Union["HeteroGraph", bool]:
        """Raise ``TypeError``/``ValueError`` naming the type and field of the first problem
        (or, with ``raise_on_error=False``, warn and return ``False``); the graph itself when
        valid. Edge types between node types that hold nothing are an error, node types no
        edge type touches a warning, as PyG's."""
        try:
            self._check()
        except (TypeError, ValueError) as error:
            if raise_on_error:
                raise
            warnings.warn(str(error), stacklevel=2)
            return False
        return self

    def _check(self) -> None:
        referenced = {t for edge_type in self._edges for t in (edge_type[0], edge_type[2])}
        dangling = {t for t in referenced if t not in self._nodes or len(self._nodes[t]) == 0}
        if dangling:
            raise ValueError(f"The node types {dangling} are referenced in edge types but do not exist as node types")
        isolated = set(self._nodes) - referenced
        if isolated:
            warnings.warn(f"The node types {isolated} are isolated and are not referenced by any edge type",
                          stacklevel=3)
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

    def to(self, device: Any, non_blocking: bool = False) -> "HeteroGraph":
        out = type(self)()
        for key, store in self._nodes.items():
            out._nodes[key] = NodeStore(key, **store._moved(device, non_blocking))
        for key, store in self._edges.items():
            out._edges[key] = EdgeStore(key, **store._moved(device, non_blocking))
        for key, value in self._graph_attributes().items():
            setattr(out, key, value.to(device, non_blocking=non_blocking) if isinstance(value, Tensor) else value)
        return out

    def __copy__(self) -> "HeteroGraph":
        return self.copy()

    def copy(self) -> "HeteroGraph":
        """A new graph sharing the tensors (stores copied, so setting an attribute does not leak)."""
        out = type(self)()
        out._nodes = {k: NodeStore(k, **s._data) for k, s in self._nodes.items()}
        out._edges = {k: EdgeStore(k, **s._data) for k, s in self._edges.items()}
        out._attributes = self._graph_attributes()
        return out

    def _graph_attributes(self) -> Dict[str, Any]:
        """Attributes of the whole graph (a batch's ``input_type``, ``num_graphs``), set on it
        as on PyG's ``HeteroData``."""
        return dict(self.__dict__.get("_attributes", {}))

    # -- PyG's HeteroData methods ---------------------------------------------------------------------
    def to_dict(self) -> Dict[Any, Any]:
        """Graph-level attributes and ``{type: {name: value}}`` per store (PyG's)."""
        out: Dict[Any, Any] = dict(self._attributes)
        for key, store in list(self._nodes.items()) + list(self._edges.items()):
            out[key] = dict(store.items())
        return out

    @classmethod
    def from_dict(cls, mapping: Dict[Any, Any]) -> "HeteroGraph":
        return cls(mapping)

    def update(self, other: "HeteroGraph") -> "HeteroGraph":
        """Every attribute of ``other`` set on this graph (stores merged), as PyG's."""
        self._attributes.update(other._attributes)
        for key, store in list(other._nodes.items()) + list(other._edges.items()):
            for name, value in store.items():
                setattr(self[key], name, value)
        return self

    def rename(self, node_type: NodeType, new_name: NodeType) -> "HeteroGraph":
        """The node type renamed (moved last, as PyG's), in every edge type too."""
        self._nodes[new_name] = NodeStore(new_name, **self._nodes.pop(node_type)._data)
        renamed = {}
        for (src, rel, dst), store in self._edges.items():
            key = (new_name if src == node_type else src, rel, new_name if dst == node_type else dst)
            renamed[key] = EdgeStore(key, **store._data)
        self._edges, self._csr = renamed, {}
        return self

    def subgraph(self, subset_dict: Dict[NodeType, Tensor]) -> "HeteroGraph":
        """The subgraph on ``subset_dict``'s nodes per type (ids or a boolean mask; other
        types whole), every node- and edge-level attribute cut to match, as PyG's."""
        from gnnx.hetero_subgraph import induced  # it builds on this module

        return induced(self, subset_dict)[0]

    def node_type_subgraph(self, node_types: List[NodeType]) -> "HeteroGraph":
        """The node types given and the edge types between them."""
        out = self.copy()
        for node_type in [t for t in out.node_types if t not in node_types]:
            del out._nodes[node_type]
        for edge_type in [e for e in out.edge_types if e[0] not in node_types or e[2] not in node_types]:
            del out[edge_type]
        return out

    def edge_type_subgraph(self, edge_types: List[Union[EdgeType, Tuple[str, str]]]) -> "HeteroGraph":
        """The edge types given and the node types they join."""
        keep = [self._edge_type(e) for e in edge_types]
        out = self.copy()
        for edge_type in [e for e in out.edge_types if e not in keep]:
            del out[edge_type]
        joined = {t for e in keep for t in (e[0], e[2])}
        for node_type in [t for t in out.node_types if t not in joined]:
            del out._nodes[node_type]
        return out

    def edge_subgraph(self, subset_dict: Dict[Union[EdgeType, Tuple[str, str]], Tensor]) -> "HeteroGraph":
        """The edges given per type (ids or a boolean mask; other types whole), every edge-level
        attribute cut to match; nodes unchanged."""
        from gnnx.hetero_subgraph import edges_kept

        return edges_kept(self, {self._edge_type(k): v for k, v in subset_dict.items()})

    def to_homogeneous(self, node_attrs: Optional[List[str]] = None, edge_attrs: Optional[List[str]] = None,
                       add_node_type: bool = True, add_edge_type: bool = True, dummy_values: bool = True) -> Any:
        """One :class:`~gnnx.Graph` of every node and edge type (PyG's ``to_homogeneous``; see
        :func:`gnnx.hetero_subgraph.homogeneous`)."""
        from gnnx.hetero_subgraph import homogeneous

        return homogeneous(self, node_attrs, edge_attrs, add_node_type, add_edge_type, dummy_values)

    def generate_ids(self) -> "HeteroGraph":
        """``n_id`` per node type and ``e_id`` per edge type: every node's and edge's position (PyG's)."""
        for store in self._nodes.values():
            store.n_id = torch.arange(int(store.num_nodes or 0))
        for store in self._edges.values():
            store.e_id = torch.arange(store.num_edges)
        return self

    def has_isolated_nodes(self) -> bool:
        """Whether some node is on no edge of any type (PyG's)."""
        touched = {t: torch.zeros(int(s.num_nodes or 0), dtype=torch.bool) for t, s in self._nodes.items()}
        for (src, _, dst), store in self._edges.items():
            touched[src][store.edge_index[0].cpu()] = True
            touched[dst][store.edge_index[1].cpu()] = True
        return any(not bool(mask.all()) for mask in touched.values())

    def has_self_loops(self) -> bool:
        """Whether an edge type from a node type to itself has a loop (PyG's)."""
        return any(src == dst and bool((store.edge_index[0] == store.edge_index[1]).any())
                   for (src, _, dst), store in self._edges.items())

    def is_undirected(self) -> bool:
        """Whether every edge has its reverse: in its own type from a node type to itself, else
        in the one edge type running the other way (PyG's)."""
        from gnnx.utils import is_undirected

        for (src, rel, dst), store in self._edges.items():
            if src == dst:
                if not is_undirected(store.edge_index, num_nodes=int(self._nodes[src].num_nodes or 0)):
                    return False
                continue
            reverse = [e for e in self._edges if (e[0], e[2]) == (dst, src)]
            if len(reverse) != 1:
                return False
            forward = set(map(tuple, store.edge_index.t().tolist()))
            if forward != set(map(tuple, self._edges[reverse[0]].edge_index.flip(0).t().tolist())):
                return False
        return True

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


def feature_width(value: Any) -> int:
    """A feature tensor's width as PyG's ``num_*_features`` reads it: its last dimension, 1
    for a 1-D tensor, 0 without one."""
    if not isinstance(value, Tensor) or value.dim() == 0:
        return 0
    return 1 if value.dim() == 1 else value.size(-1)
