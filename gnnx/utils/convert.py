"""NetworkX conversion (PyG's ``to_networkx`` / ``from_networkx``), when networkx is installed."""
from __future__ import annotations

from typing import Any, Iterable, List, Optional, Union

import torch


def _networkx():
    try:
        import networkx
    except ImportError as error:  # an optional dependency
        raise ImportError("to_networkx / from_networkx need networkx (pip install networkx)") from error
    return networkx


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
