r"""Global readouts: one vector per graph of a batch.

.. math::
    \mathbf{r}_g = \bigoplus_{i \,:\, \mathrm{batch}_i = g} \mathbf{x}_i

Pass ``size`` (the number of graphs): without it, it is read from ``batch`` with a host sync.
Graphs without nodes read 0.

Top-k pooling (:class:`TopKPooling`, :class:`SAGPooling`) keeps the best-scored nodes of
each graph, either as PyG does (a data-dependent number) or, with ``static=True``, in
``k`` fixed slots per graph with masks, so pooled models compile and export.
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx import ops
from gnnx.graph import Graph, source_csr
from gnnx.nn.inits import activation
from gnnx.nn.knn_index import (  # noqa: F401  (PyG's torch_geometric.nn.pool names them too)
    ApproxL2KNNIndex,
    ApproxMIPSKNNIndex,
    KNNIndex,
    L2KNNIndex,
    MIPSKNNIndex,
)
from gnnx.nn.point_sets import approx_knn, approx_knn_graph  # noqa: F401  (PyG's nn.pool names them)
from gnnx.ops.dispatch import check_index_range
from gnnx.utils.edges import check_flow, coalesce
from gnnx.utils.loop import add_self_loops, remove_self_loops
from gnnx.utils.num_nodes import maybe_num_nodes


def _pool(x: Tensor, batch: Optional[Tensor], size: Optional[int], reduce: str) -> Tensor:
    # Nodes run along dim -2 (-1 for a 1-D x), as in PyG: x [N, F] or, for static graphs
    # sharing one structure, [B, N, F].
    dim = -1 if x.dim() == 1 else -2
    if batch is None:
        return getattr(x, reduce if reduce != "max" else "amax")(dim=dim, keepdim=x.dim() <= 2)
    nodes = x.size(dim)
    if batch.dtype.is_floating_point or batch.dim() != 1 or batch.size(0) != nodes:
        raise ValueError(
            f"batch must be an int64 vector with one entry per node ({nodes}), got "
            f"{batch.dtype} of shape {list(batch.shape)}"
        )
    if size is not None:
        check_index_range(batch, size, "batch", "size={count} graphs", unit="graph id")
    return ops.scatter(x, batch, ops.infer_size(batch, size), reduce, dim=dim)


def global_add_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Sum of node features per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "sum")


def global_mean_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Mean of node features per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "mean")


def global_max_pool(x: Tensor, batch: Optional[Tensor], size: Optional[int] = None) -> Tensor:
    """Feature-wise maximum per graph: ``[N, F] -> [size, F]``."""
    return _pool(x, batch, size, "max")


class StaticPooled(NamedTuple):
    """What :class:`TopKPooling`/:class:`SAGPooling` return with ``static=True``: PyG's six
    outputs with fixed shapes (``batch_size * k`` nodes, all ``E`` edges) and two masks."""

    x: Tensor            # [B * k, F]; empty slots (graphs with fewer than k nodes) are 0
    edge_index: Tensor   # [2, E] in the pooled numbering; dropped edges are (0, 0) with edge_mask False
    edge_attr: Optional[Tensor]
    batch: Tensor        # [B * k]
    perm: Tensor         # [B * k] kept node of each slot (0 for empty slots)
    score: Tensor        # [B * k] its score (0 for empty slots)
    node_mask: Tensor    # [B * k] bool: slot holds a node
    edge_mask: Tensor    # [E] bool: both ends kept (pass it on, e.g. as edge_weight)


class SelectTopK(torch.nn.Module):
    r"""Node scores of top-k pooling: :math:`s = \sigma(\mathbf{X}\mathbf{p}/\lVert\mathbf{p}\rVert)`
    (with ``min_score``: a softmax over each graph's nodes instead)."""

    def __init__(self, in_channels: int, ratio: Union[int, float, None] = 0.5, min_score: Optional[float] = None,
                 act: Union[str, Callable] = "tanh") -> None:
        super().__init__()
        if ratio is None and min_score is None:
            raise ValueError("top-k pooling needs ratio or min_score")
        self.in_channels, self.ratio, self.min_score = in_channels, ratio, min_score
        self.act = activation(act)
        self.weight = torch.nn.Parameter(torch.empty(1, in_channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.in_channels)
        with torch.no_grad():
            self.weight.uniform_(-bound, bound)

    def forward(self, x: Tensor, batch: Tensor, batch_size) -> Tensor:
        x = x.view(-1, 1) if x.dim() == 1 else x
        score = (x * self.weight).sum(dim=-1)
        if self.min_score is None:
            return self.act(score / self.weight.norm(p=2, dim=-1))
        return ops.segment_softmax(score, batch, batch_size)


def _rank_within_graphs(score: Tensor, batch: Tensor, batch_size) -> Tuple[Tensor, Tensor, Tensor]:
    """Nodes ordered by graph, then by descending score; with each graph's start and count."""
    order = score.argsort(descending=True, stable=True)
    order = order.index_select(0, batch.index_select(0, order).argsort(stable=True))
    count = ops.scatter(torch.ones_like(batch), batch, batch_size, "sum")
    start = torch.cumsum(count, 0) - count
    return order, start, count


def topk_nodes(score: Tensor, ratio: Union[int, float, None], batch: Tensor, batch_size,
               min_score: Optional[float] = None) -> Tensor:
    """PyG's top-k selection: the kept nodes (a data-dependent number), graph by graph."""
    if min_score is not None:
        highest = ops.scatter(score, batch, batch_size, "max").index_select(0, batch) - 1e-7
        return (score > highest.clamp(max=min_score)).nonzero().view(-1)
    order, start, count = _rank_within_graphs(score, batch, batch_size)
    k = count.clamp(max=int(ratio)) if ratio >= 1 else (float(ratio) * count.to(score.dtype)).ceil().long()
    sorted_batch = batch.index_select(0, order)
    rank = torch.arange(score.size(0), device=score.device) - start.index_select(0, sorted_batch)
    return order[rank < k.index_select(0, sorted_batch)]


def _filter_edges(edge_index: Tensor, edge_attr: Optional[Tensor], perm: Tensor, num_nodes):
    new_id = torch.full((num_nodes,), -1, dtype=torch.long, device=perm.device)
    new_id[perm] = torch.arange(perm.size(0), device=perm.device)
    row, col = new_id[edge_index[0]], new_id[edge_index[1]]
    keep = (row >= 0) & (col >= 0)
    return torch.stack([row[keep], col[keep]]), (edge_attr[keep] if edge_attr is not None else None)


def _static_pool(x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor], batch: Tensor, batch_size,
                 score: Tensor, k: int, multiplier: float) -> StaticPooled:
    n = x.size(0)
    order, start, count = _rank_within_graphs(score, batch, batch_size)
    rank = torch.arange(k, device=x.device).repeat(batch_size)
    graph = torch.arange(batch_size, device=x.device).repeat_interleave(k)
    node_mask = rank < count.index_select(0, graph)
    position = (start.index_select(0, graph) + rank).clamp(max=n - 1)
    perm = torch.where(node_mask, order.index_select(0, position), torch.zeros_like(position))
    kept_score = torch.where(node_mask, score.index_select(0, perm), torch.zeros_like(score[:1]))
    out = x.index_select(0, perm) * kept_score.view(-1, 1)
    out = multiplier * out if multiplier != 1 else out
    # Pooled id of every input node (-1 if dropped); empty slots write to a sink past the end.
    sink = torch.where(node_mask, perm, torch.full_like(perm, n))
    new_id = torch.full((n + 1,), -1, dtype=torch.long, device=x.device).index_put(
        (sink,), torch.arange(perm.size(0), device=x.device))[:n]
    row, col = new_id.index_select(0, edge_index[0]), new_id.index_select(0, edge_index[1])
    edge_mask = (row >= 0) & (col >= 0)
    pooled_edges = torch.where(edge_mask, torch.stack([row, col]), torch.zeros_like(edge_index))
    return StaticPooled(out, pooled_edges, edge_attr, graph, perm, kept_score, node_mask, edge_mask)


class TopKPooling(torch.nn.Module):
    r"""Top-k pooling, `"Graph U-Nets" <https://arxiv.org/abs/1905.05178>`_ and
    `"Towards Sparse Hierarchical Graph Classifiers" <https://arxiv.org/abs/1811.01287>`_:

    .. math::
        \mathbf{y} = \sigma\Big(\frac{\mathbf{X}\mathbf{p}}{\lVert\mathbf{p}\rVert}\Big), \quad
        \mathbf{i} = \mathrm{top}_k(\mathbf{y}), \quad
        \mathbf{X}' = (\mathbf{X} \odot \mathbf{y})_{\mathbf{i}}, \quad \mathbf{A}' = \mathbf{A}_{\mathbf{i},\mathbf{i}}

    per graph. Two modes:

    * ``static=False`` (PyG's): keep ``ceil(ratio * N_g)`` nodes per graph (or ``ratio``
      nodes if it is an int, or those above ``min_score``); data-dependent shapes, for eager use.
    * ``static=True``: ``ratio`` is an int ``k``; every graph gets exactly ``k`` slots
      (empty ones masked), all edges are kept with a mask, so the result has fixed shapes
      ``[batch_size * k]`` and ``[2, E]`` and compiles and exports. Returns :class:`StaticPooled`.

    Shapes: ``x [N, F]``, ``edge_index [2, E]``, ``edge_attr [E, *]``, ``batch [N]``,
    ``attn [N, *]`` (scores computed from it instead of ``x``), ``batch_size`` (the number
    of graphs; required with ``static=True``).
    """

    def __init__(self, in_channels: int, ratio: Union[int, float] = 0.5, min_score: Optional[float] = None,
                 multiplier: float = 1.0, nonlinearity: Union[str, Callable] = "tanh", static: bool = False) -> None:
        super().__init__()
        _check_static(static, ratio, min_score)
        self.in_channels, self.ratio, self.min_score, self.multiplier, self.static = \
            in_channels, ratio, min_score, multiplier, static
        self.select = SelectTopK(in_channels, ratio, min_score, nonlinearity)

    def reset_parameters(self) -> None:
        self.select.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                batch: Optional[Tensor] = None, attn: Optional[Tensor] = None, batch_size: Optional[int] = None):
        batch, batch_size = _batch_of(x, batch, batch_size, self.static)
        score = self.select(x if attn is None else attn, batch, batch_size)
        return _topk_pool(self, x, edge_index, edge_attr, batch, batch_size, score)

    def __repr__(self) -> str:
        arg = f"ratio={self.ratio}" if self.min_score is None else f"min_score={self.min_score}"
        return f"TopKPooling({self.in_channels}, {arg}, multiplier={self.multiplier})"


class SAGPooling(torch.nn.Module):
    r"""Self-attention graph pooling, `"Self-Attention Graph Pooling" <https://arxiv.org/abs/1904.08082>`_:
    top-k pooling whose scores come from a GNN, :math:`\mathbf{y} = \mathrm{GNN}(\mathbf{X}, \mathbf{A})`.

    Args: as :class:`TopKPooling`, plus ``GNN`` (a layer class built as ``GNN(in_channels, 1,
    **kwargs)``, default :class:`~gnnx.nn.GraphConv`). ``static`` as in :class:`TopKPooling`.
    """

    def __init__(self, in_channels: int, ratio: Union[int, float] = 0.5, GNN: Optional[Callable] = None,
                 min_score: Optional[float] = None, multiplier: float = 1.0,
                 nonlinearity: Union[str, Callable] = "tanh", static: bool = False, **kwargs: Any) -> None:
        super().__init__()
        _check_static(static, ratio, min_score)
        if GNN is None:
            from gnnx.nn.conv import GraphConv as GNN
        self.in_channels, self.ratio, self.min_score, self.multiplier, self.static = \
            in_channels, ratio, min_score, multiplier, static
        self.gnn = GNN(in_channels, 1, **kwargs)
        self.select = SelectTopK(1, ratio, min_score, nonlinearity)

    def reset_parameters(self) -> None:
        self.gnn.reset_parameters()
        self.select.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None,
                batch: Optional[Tensor] = None, attn: Optional[Tensor] = None, batch_size: Optional[int] = None):
        batch, batch_size = _batch_of(x, batch, batch_size, self.static)
        attn = x if attn is None else attn
        attn = self.gnn(attn.view(-1, 1) if attn.dim() == 1 else attn, edge_index)
        score = self.select(attn, batch, batch_size)
        return _topk_pool(self, x, edge_index, edge_attr, batch, batch_size, score)

    def __repr__(self) -> str:
        arg = f"ratio={self.ratio}" if self.min_score is None else f"min_score={self.min_score}"
        return f"SAGPooling({type(self.gnn).__name__}, {self.in_channels}, {arg}, multiplier={self.multiplier})"


def _check_static(static: bool, ratio, min_score) -> None:
    if static and (min_score is not None or not isinstance(ratio, int) or ratio < 1):
        raise ValueError("static=True keeps a fixed number of nodes per graph: give ratio as an int k >= 1 "
                         "and no min_score")


def _batch_of(x: Tensor, batch: Optional[Tensor], batch_size, static: bool):
    if batch is None:
        return torch.zeros(x.size(0), dtype=torch.long, device=x.device), 1
    if batch_size is None:
        if static:
            raise ValueError("static=True needs batch_size (the number of graphs) to keep shapes fixed")
    return batch, ops.infer_size(batch, batch_size)


def _topk_pool(module, x: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor], batch: Tensor, batch_size,
          score: Tensor):
    if module.static:
        return _static_pool(x, edge_index, edge_attr, batch, batch_size, score, module.ratio, module.multiplier)
    perm = topk_nodes(score, module.ratio, batch, batch_size, module.min_score)
    kept = score[perm]
    out = x[perm] * kept.view(-1, 1)
    out = module.multiplier * out if module.multiplier != 1 else out
    edge_index, edge_attr = _filter_edges(edge_index, edge_attr, perm, x.size(0))
    return out, edge_index, edge_attr, batch[perm], perm, kept


# -- cluster pooling (PyG's max_pool_x / avg_pool_x) ----------------------------------------------
def consecutive_cluster(cluster: Tensor) -> Tuple[Tensor, Tensor]:
    """``(inverse, perm)``: each node's cluster renumbered ``0..C-1`` in increasing order of
    the ids, and for each cluster the last node of it (PyG's choice, read by ``pool_batch``)."""
    unique, inverse = torch.unique(cluster, sorted=True, return_inverse=True)
    perm = inverse.new_empty(unique.size(0)).scatter_(0, inverse, torch.arange(inverse.size(0), device=inverse.device))
    return inverse, perm


def _cluster_pool(cluster: Tensor, x: Tensor, batch: Tensor, batch_size: Optional[int], size: Optional[int],
                  reduce: str) -> Tuple[Tensor, Optional[Tensor]]:
    if cluster.dim() != 1 or cluster.size(0) != x.size(0):
        raise ValueError(f"cluster must have one entry per node ({x.size(0)}), got shape {list(cluster.shape)}")
    if size is not None:  # a fixed number of slots per graph: a static shape
        batch_size = ops.infer_size(batch, batch_size)
        return ops.scatter(x, cluster, batch_size * size, reduce), None
    cluster, perm = consecutive_cluster(cluster)
    return ops.scatter(x, cluster, perm.size(0), reduce), batch.index_select(0, perm)


def max_pool_x(cluster: Tensor, x: Tensor, batch: Tensor, batch_size: Optional[int] = None,
               size: Optional[int] = None) -> Tuple[Tensor, Optional[Tensor]]:
    r"""Max-pools the nodes of each cluster, :math:`\mathbf{x}'_c = \max_{i \in c} \mathbf{x}_i`:
    ``(x [C, F], batch [C])`` over the clusters present (renumbered in order of their ids), or,
    with ``size`` (clusters per graph), ``(x [batch_size * size, F], None)`` indexed by the ids
    themselves (empty slots 0), a shape that compiles and exports."""
    return _cluster_pool(cluster, x, batch, batch_size, size, "max")


def avg_pool_x(cluster: Tensor, x: Tensor, batch: Tensor, batch_size: Optional[int] = None,
               size: Optional[int] = None) -> Tuple[Tensor, Optional[Tensor]]:
    r"""Average-pools the nodes of each cluster (as :func:`max_pool_x`, with the mean)."""
    return _cluster_pool(cluster, x, batch, batch_size, size, "mean")


def pool_edge(cluster: Tensor, edge_index: Tensor, edge_attr: Optional[Tensor] = None,
              reduce: str = "sum") -> Tuple[Tensor, Optional[Tensor]]:
    """Edges between clusters: each end replaced by its cluster, edges within a cluster
    dropped, duplicates merged (their ``edge_attr`` reduced with ``reduce``), sorted (PyG's)."""
    edge_index = cluster.index_select(0, edge_index.reshape(-1)).view(2, -1)
    edge_index, edge_attr = remove_self_loops(edge_index, edge_attr)
    if edge_index.numel() > 0:
        if edge_attr is None:
            edge_index = coalesce(edge_index, num_nodes=cluster.size(0))
        else:
            edge_index, edge_attr = coalesce(edge_index, edge_attr, cluster.size(0), reduce=reduce)
    return edge_index, edge_attr


def _pool_graph(cluster: Tensor, data: Any, transform: Optional[Callable], reduce: str) -> Graph:
    if cluster.dim() != 1 or cluster.size(0) != data.num_nodes:
        raise ValueError(f"cluster must have one entry per node ({data.num_nodes}), got shape {list(cluster.shape)}")
    cluster, perm = consecutive_cluster(cluster)
    clusters = perm.size(0)
    x = None if data.x is None else ops.scatter(data.x, cluster, clusters, reduce)
    edge_index, edge_attr = pool_edge(cluster, data.edge_index, getattr(data, "edge_attr", None))
    batch = None if data.batch is None else data.batch.index_select(0, perm)
    pos = None if data.pos is None else ops.scatter(data.pos, cluster, clusters, "mean")
    pooled = Graph(edge_index, clusters, x=x, pos=pos, batch=batch, edge_attr=edge_attr)
    return pooled if transform is None else transform(pooled)


def max_pool(cluster: Tensor, data: Any, transform: Optional[Callable] = None) -> Graph:
    r"""A graph coarsened by ``cluster`` (PyG's ``max_pool``): one node per cluster present
    (renumbered in order of the ids) with the max of its nodes' ``x``, the mean of their
    ``pos``, their graph in ``batch``, and the edges between clusters (:func:`pool_edge`;
    ``edge_attr`` summed). ``data`` is a :class:`~gnnx.Graph` (or any object with ``x``,
    ``edge_index``, ``pos``, ``batch``, ``num_nodes``); returns a :class:`~gnnx.Graph`, passed
    through ``transform`` if given. Eager: the cluster count is read from the data."""
    return _pool_graph(cluster, data, transform, "max")


def avg_pool(cluster: Tensor, data: Any, transform: Optional[Callable] = None) -> Graph:
    r"""As :func:`max_pool`, with the mean of each cluster's ``x`` (PyG's ``avg_pool``)."""
    return _pool_graph(cluster, data, transform, "mean")


def _pool_neighbor_x(data: Any, flow: str, reduce: str) -> Any:
    check_flow(flow)
    edge_index, _ = add_self_loops(data.edge_index, num_nodes=data.num_nodes)
    source, target = edge_index if flow == "source_to_target" else edge_index.flip(0)
    data.x = ops.scatter(data.x.index_select(0, source), target, data.num_nodes, reduce)
    return data


def max_pool_neighbor_x(data: Any, flow: str = "source_to_target") -> Any:
    r"""Each node's ``x`` replaced by the max over itself and its neighbours,
    :math:`\mathbf{x}'_i = \max_{j \in \mathcal{N}(i) \cup \{i\}} \mathbf{x}_j` (PyG's
    ``max_pool_neighbor_x``: ``data``, a :class:`~gnnx.Graph` or PyG-like object, is updated in
    place and returned)."""
    return _pool_neighbor_x(data, flow, "max")


def avg_pool_neighbor_x(data: Any, flow: str = "source_to_target") -> Any:
    r"""As :func:`max_pool_neighbor_x`, with the mean (PyG's ``avg_pool_neighbor_x``)."""
    return _pool_neighbor_x(data, flow, "mean")


def graclus(edge_index: Tensor, weight: Optional[Tensor] = None, num_nodes: Optional[int] = None) -> Tensor:
    r"""Greedy clustering of Graclus, `"Weighted Graph Cuts without Eigenvectors: A Multilevel
    Approach" <https://www.cs.utexas.edu/users/inderjit/public_papers/multilevel_pami.pdf>`_
    (PyG's ``graclus``, which needs ``pyg-lib``): nodes are visited in a random order, and an
    unmatched node is paired with its first unmatched neighbour (with ``weight``: the heaviest,
    the last of equals; none heavier than 0: alone). Returns each node's cluster ``[N]``, the
    smaller index of its pair. Same seed, same clusters as pyg-lib's CPU kernel. Eager and on
    the host: each choice depends on the ones before it."""
    count = maybe_num_nodes(edge_index, num_nodes)
    rowptr, cols, order = (t.tolist() for t in source_csr(edge_index.cpu(), count, count))
    weights = None if weight is None else weight.cpu()[order].tolist()
    cluster = [-1] * count
    for u in torch.randperm(count).tolist():
        if cluster[u] >= 0:
            continue
        match = u
        if weights is None:
            cluster[u] = u
            match = next((v for v in cols[rowptr[u]:rowptr[u + 1]] if cluster[v] < 0), u)
        else:
            heaviest = 0.0
            for e in range(rowptr[u], rowptr[u + 1]):
                if cluster[cols[e]] < 0 and weights[e] >= heaviest:
                    match, heaviest = cols[e], weights[e]
        cluster[u] = cluster[match] = min(u, match)
    return torch.tensor(cluster, dtype=torch.long, device=edge_index.device)
