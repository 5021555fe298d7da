"""PyG's ``Data`` and ``HeteroData`` through gnnx's transforms.

A port that changes ``torch_geometric.transforms`` to ``gnnx.transforms`` often still loads
PyG's datasets, whose items are PyG objects. Each transform's ``__call__`` is wrapped here
(:func:`takes_pyg_data`, applied to every class :mod:`gnnx.transforms` exports): a ``Data``
becomes a :class:`~gnnx.Graph` (tensors shared; a point cloud without ``edge_index`` gets an
empty one, dropped again on the way back if it stayed empty), a ``HeteroData`` a
:class:`~gnnx.HeteroGraph`, and the result goes back to PyG's type (each one of a tuple,
as ``RandomLinkSplit`` returns three).
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import torch

from gnnx.graph import Graph
from gnnx.hetero_graph import HeteroGraph


def is_pyg_data(data: Any) -> bool:
    """Whether ``data`` is PyG's ``Data`` or ``HeteroData`` (by type, so PyG need not be importable)."""
    return type(data).__module__.startswith("torch_geometric.data") and type(data).__name__ in ("Data", "HeteroData")


def _to_gnnx(data: Any) -> Graph | HeteroGraph:
    if type(data).__name__ == "HeteroData":
        return HeteroGraph.from_pyg(data)
    if data.edge_index is not None:  # (unvalidated, as PyG's transforms take it: NaN features to fill, ...)
        return Graph.from_pyg(data, validate=False)
    fields = {key: value for key, value in data.to_dict().items() if key != "num_nodes"}
    device = next((v.device for v in fields.values() if isinstance(v, torch.Tensor)), None)
    graph = Graph(torch.empty(2, 0, dtype=torch.long, device=device), data.num_nodes or 0, validate=False, **fields)
    graph.attrs["_pyg_without_edges"] = True
    return graph


def _to_pyg(out: Any, stores_num_nodes: bool) -> Any:
    """``out`` as PyG's objects; ``num_nodes`` stored only where the input stored it or PyG
    could not infer it from the node tensors (as PyG's transforms leave it)."""
    if isinstance(out, Graph):
        without_edges = out.attrs.pop("_pyg_without_edges", False)
        data = out.to_pyg()
        if without_edges and out.edge_index.numel() == 0:
            del data.edge_index
        if not stores_num_nodes:
            del data.num_nodes
            inferred = data.num_nodes
            if inferred != out.num_nodes and not (inferred is None and out.num_nodes == 0):
                data.num_nodes = out.num_nodes  # (none known going in, none coming out: left unset)
        return data
    if isinstance(out, HeteroGraph):
        return out.to_pyg()
    if isinstance(out, (tuple, list)):
        return type(out)(_to_pyg(item, stores_num_nodes) for item in out)
    return out


def takes_pyg_data(cls: type) -> type:
    """``cls`` whose ``__call__`` also takes PyG's ``Data``/``HeteroData`` and gives PyG's back."""
    call: Callable[..., Any] = cls.__call__

    @functools.wraps(call)
    def __call__(self, data: Any, *args: Any, **kwargs: Any) -> Any:
        if is_pyg_data(data):
            stores_num_nodes = type(data).__name__ == "Data" and "num_nodes" in data.keys()
            return _to_pyg(call(self, _to_gnnx(data), *args, **kwargs), stores_num_nodes)
        return call(self, data, *args, **kwargs)

    cls.__call__ = __call__
    return cls
