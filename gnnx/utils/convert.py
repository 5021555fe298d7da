"""Conversion to and from other graph libraries (PyG's ``to_networkx`` / ``from_networkx``,
``to_networkit`` / ``from_networkit``, ``to_trimesh`` / ``from_trimesh``), each when its
library is installed."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Iterable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx._optional import require
from gnnx.utils.num_nodes import maybe_num_nodes

if TYPE_CHECKING:
    from gnnx.graph import Graph


def _networkx():
    return require("networkx", "to_networkx / from_networkx")


def _value(value: Any) -> Any:
    return value.tolist() if torch.is_tensor(value) else value


def to_networkx(data: Any, node_attrs: Optional[Iterable[str]] = None, edge_attrs: Optional[Iterable[str]] = None,
                graph_attrs: Optional[Iterable[str]] = None, to_undirected: Union[bool, str, None] = False,
                to_multi: bool = False, remove_self_loops: bool = False) -> Any:
    """A ``networkx`` graph of a :class:`~gnnx.Graph` (or PyG ``Data``): nodes ``0..N-1``
    with the chosen attributes as Python values. ``to_undirected``: an undirected graph
    (``True``: every edge, both directions merged; ``"upper"`` / ``"lower"``: only edges
    ``i <= j`` / ``i >= j``, so their attributes win), as PyG."""
    nx = _networkx()
    undirected = bool(to_undirected)
    if to_multi:
        graph = nx.MultiGraph() if undirected else nx.MultiDiGraph()
    else:
        graph = nx.Graph() if undirected else nx.DiGraph()
    num_nodes = int(data.num_nodes)
    graph.add_nodes_from(range(num_nodes))
    for key in graph_attrs or []:
        graph.graph[key] = _value(getattr(data, key))
    node_values = {key: _value(getattr(data, key)) for key in node_attrs or []}
    for i in range(num_nodes):
        graph.nodes[i].update({key: values[i] for key, values in node_values.items()})
    edge_values = {key: _value(getattr(data, key)) for key in edge_attrs or []}
    for e, (u, v) in enumerate(data.edge_index.t().tolist()):
        if (to_undirected == "upper" and u > v) or (to_undirected == "lower" and u < v):
            continue
        if remove_self_loops and u == v:
            continue
        graph.add_edge(u, v, **{key: values[e] for key, values in edge_values.items()})
    return graph


def from_networkx(G: Any, group_node_attrs: Union[List[str], str, None] = None,
                  group_edge_attrs: Union[List[str], str, None] = None) -> Any:
    """A :class:`~gnnx.Graph` of a ``networkx`` graph: nodes renumbered in ``G.nodes``
    order; node and edge attributes become tensors of their name, those listed in
    ``group_node_attrs`` / ``group_edge_attrs`` (or ``"all"``) concatenated into ``x`` /
    ``edge_attr``. An undirected graph gives both directions of each edge."""
    from gnnx.graph import Graph

    nx = _networkx()
    G = G.to_directed() if not nx.is_directed(G) else G
    index = {node: i for i, node in enumerate(G.nodes())}
    pairs = [(index[u], index[v]) for u, v in G.edges()]
    edge_index = torch.tensor(pairs, dtype=torch.long).t().reshape(2, -1)
    node_data = {}
    for _, attributes in G.nodes(data=True):
        for key, value in attributes.items():
            node_data.setdefault(key, []).append(value)
    edge_data = {}
    for _, _, attributes in G.edges(data=True):
        for key, value in attributes.items():
            edge_data.setdefault(key, []).append(value)
    extra = {}
    for key, values in {**node_data, **edge_data}.items():
        try:
            extra[key] = torch.tensor(values)
        except (TypeError, ValueError):
            extra[key] = values
    x = _group(extra, node_data, group_node_attrs)
    edge_attr = _group(extra, edge_data, group_edge_attrs)
    return Graph(edge_index, G.number_of_nodes(), x=x, edge_attr=edge_attr, validate=False,
                 **{k: v for k, v in extra.items() if k not in ("x", "edge_attr")})


def _group(tensors: dict, names: dict, group: Union[List[str], str, None]):
    if group is None:
        return tensors.get("x") if names is not None and "x" in names else None
    keys = list(names) if group == "all" else list(group)
    columns = [tensors.pop(key) for key in keys]
    columns = [c.view(-1, 1) if c.dim() == 1 else c for c in columns]
    return torch.cat([c.float() for c in columns], dim=-1)


def to_networkit(edge_index: Tensor, edge_weight: Optional[Tensor] = None, num_nodes: Optional[int] = None,
                 directed: bool = True) -> Any:
    """A ``networkit.Graph`` of the edges (weighted where ``edge_weight`` is given); with
    ``directed=False`` each undirected edge is added once, from the pairs with ``src <= dst``."""
    networkit = require("networkit", "to_networkit")
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    graph = networkit.graph.Graph(num_nodes, weighted=edge_weight is not None, directed=directed)
    weights = edge_weight.tolist() if edge_weight is not None else [1.0] * edge_index.size(1)
    for (src, dst), weight in zip(edge_index.t().tolist(), weights):
        if directed or src <= dst:
            graph.addEdge(src, dst, weight)
    return graph


def from_networkit(graph: Any) -> Tuple[Tensor, Optional[Tensor]]:
    """``(edge_index, edge_weight)`` of a ``networkit.Graph`` (both directions of an
    undirected edge; ``edge_weight`` ``None`` for an unweighted graph)."""
    pairs, weights = [], []
    for src, dst, weight in graph.iterEdgesWeights():
        pairs.append([src, dst])
        weights.append(weight)
        if not graph.isDirected():
            pairs.append([dst, src])
            weights.append(weight)
    edge_index = torch.tensor(pairs, dtype=torch.long).view(-1, 2).t().contiguous()
    return edge_index, torch.tensor(weights) if graph.isWeighted() else None


def to_trimesh(graph: Any) -> Any:
    """A ``trimesh.Trimesh`` of a mesh graph's ``pos`` ``[V, 3]`` and ``face`` ``[3, F]``
    (unprocessed: vertices and faces as given)."""
    trimesh = require("trimesh", "to_trimesh")
    pos, face = getattr(graph, "pos", None), getattr(graph, "face", None)
    if pos is None or face is None:
        raise ValueError("to_trimesh needs the graph's pos [num_vertices, 3] and face [3, num_faces]")
    return trimesh.Trimesh(vertices=pos.detach().cpu().numpy(), faces=face.detach().t().cpu().numpy(), process=False)


def from_trimesh(mesh: Any) -> Graph:
    """A mesh :class:`~gnnx.Graph`: ``pos`` (float32 vertices), ``face`` ``[3, F]`` and no edges
    (:class:`~gnnx.transforms.FaceToEdge` adds them)."""
    from gnnx.graph import Graph
    pos = torch.from_numpy(mesh.vertices).to(torch.float)
    face = torch.from_numpy(mesh.faces).to(torch.long).t().contiguous()
    return Graph(torch.empty((2, 0), dtype=torch.long), pos.size(0), pos=pos, face=face)
