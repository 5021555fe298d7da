r"""Graph diffusion convolution (``GDC``, Gasteiger et al., `"Diffusion Improves Graph
Learning" <https://arxiv.org/abs/1911.05485>`_): the graph replaced by a sparsified
diffusion of its transition matrix :math:`\mathbf{T}`,

.. math::
    \mathbf{S} = \sum_k \theta_k \mathbf{T}^k, \quad
    \text{PPR: } \mathbf{S} = \alpha (\mathbf{I} - (1 - \alpha)\mathbf{T})^{-1}, \quad
    \text{heat: } \mathbf{S} = e^{-t(\mathbf{I} - \mathbf{T})},

PyG's arguments and results. ``exact=True`` (the default) computes :math:`\mathbf{S}` densely
(``O(N^2)`` memory, ``O(N^3)`` time: graphs of up to some ten thousand nodes); ``exact=False``
approximates PPR by push from every node (:func:`gnnx.utils.get_ppr`, work bounded by
:math:`1 / (\alpha \epsilon)` per node, so large sparse graphs fit) on unweighted graphs with unit
self-loops, then sparsifies the resulting edges by threshold or top-k, as PyG's.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

import torch
from torch import Tensor

from gnnx import ops
from gnnx.graph import Graph
from gnnx.utils import add_self_loops, coalesce, get_ppr, to_dense_adj


def transition_matrix(edge_index: Tensor, edge_weight: Tensor, num_nodes: int,
                      normalization: Optional[str]) -> Tuple[Tensor, Tensor]:
    """Edge weights normalised ``"sym"`` (by destination degree on both sides, as PyG),
    ``"col"`` (by destination degree), ``"row"`` (by source degree) or not at all."""
    if normalization is None:
        return edge_index, edge_weight
    row, col = edge_index
    if normalization not in ("sym", "col", "row"):
        raise ValueError(f"Transition matrix normalization '{normalization}' unknown")
    deg = ops.scatter(edge_weight, row if normalization == "row" else col, dim_size=num_nodes, reduce="sum")
    if normalization == "sym":
        scale = deg.pow(-0.5).masked_fill(deg == 0, 0)
        return edge_index, scale[row] * edge_weight * scale[col]
    inverse = (1.0 / deg).masked_fill(deg == 0, 0)
    return edge_index, edge_weight * inverse[row if normalization == "row" else col]


def _dense(edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tensor:
    return to_dense_adj(edge_index, edge_attr=edge_weight, max_num_nodes=num_nodes)[0]


def diffusion_matrix(edge_index: Tensor, edge_weight: Tensor, num_nodes: int, method: str, **kwargs: Any) -> Tensor:
    """The dense diffusion matrix ``S`` (``"ppr"`` with ``alpha``, ``"heat"`` with ``t``,
    ``"coeff"`` with ``coeffs``)."""
    if method == "ppr":
        edge_index, edge_weight = add_self_loops(edge_index, (kwargs["alpha"] - 1) * edge_weight, fill_value=1,
                                                 num_nodes=num_nodes)
        return kwargs["alpha"] * torch.inverse(_dense(edge_index, edge_weight, num_nodes))
    if method == "heat":
        edge_index, edge_weight = add_self_loops(edge_index, edge_weight, fill_value=-1, num_nodes=num_nodes)
        return torch.matrix_exp(_dense(edge_index, kwargs["t"] * edge_weight, num_nodes))
    if method == "coeff":
        adj = _dense(edge_index, edge_weight, num_nodes)
        power = torch.eye(num_nodes, device=edge_index.device)
        out = kwargs["coeffs"][0] * power
        for coeff in kwargs["coeffs"][1:]:
            power = power @ adj
            out = out + coeff * power
        return out
    raise ValueError(f"Exact GDC diffusion '{method}' unknown")


def sparsify(matrix: Tensor, method: str, **kwargs: Any) -> Tuple[Tensor, Tensor]:
    """Entries of ``matrix`` kept as edges: above a threshold ``eps`` (or the one that
    leaves ``avg_degree`` entries per node), or the ``k`` largest per column (``dim=0``) or
    row (``dim=1``)."""
    n = matrix.size(1)
    if method == "threshold":
        eps = kwargs["eps"] if kwargs.get("eps") is not None else _threshold(matrix, n, kwargs["avg_degree"])
        edge_index = (matrix >= eps).nonzero().t()
        return edge_index, matrix[edge_index[0], edge_index[1]]
    if method == "topk":
        k, dim = min(n, kwargs["k"]), kwargs["dim"]
        if dim not in (0, 1):
            raise ValueError(f"topk sparsification: dim must be 0 or 1, got {dim}")
        top = torch.argsort(matrix, dim=dim, descending=True)
        if dim == 0:
            top = top[:k]
            weight = torch.gather(matrix, 0, top).flatten()
            return torch.stack([top.flatten(), torch.arange(n, device=matrix.device).repeat(k)]), weight
        top = top[:, :k]
        weight = torch.gather(matrix, 1, top).flatten()
        return torch.stack([torch.arange(n, device=matrix.device).repeat_interleave(k), top.flatten()]), weight
    raise ValueError(f"GDC sparsification '{method}' unknown")


def _threshold(values: Tensor, num_nodes: int, avg_degree: int) -> float:
    """The weight that keeps ``avg_degree * num_nodes`` of ``values`` (midway between the last
    kept and the first dropped, as PyG; everything where there are fewer)."""
    ordered = torch.sort(values.flatten(), descending=True).values
    keep = avg_degree * num_nodes
    if keep > ordered.numel():
        return float("-inf")
    return float(ordered[keep - 1] + ordered[keep]) / 2 if keep < ordered.numel() else float(ordered[-1])


def diffusion_approx(edge_index: Tensor, edge_weight: Tensor, num_nodes: int, normalization: str, method: str,
                     **kwargs: Any) -> Tuple[Tensor, Tensor]:
    """Approximate PPR diffusion (``method="ppr"`` with ``alpha`` and ``eps``, the push's
    residual bound per out-degree) as edges: :func:`gnnx.utils.get_ppr`'s row-normalised
    estimates, turned into the ``normalization`` the exact path would have used (``"col"``:
    transposed; ``"sym"``: scaled by :math:`D^{1/2}` on the left and :math:`D^{-1/2}` on the right
    with the input's degrees)."""
    if method == "heat":
        raise NotImplementedError("GDC(exact=False): no approximate heat kernel (PyG has none either); use "
                                  "exact=True or method='ppr'")
    if method != "ppr":
        raise ValueError(f"Approximate GDC diffusion '{method}' unknown")
    if kwargs.get("eps") is None:
        raise ValueError("GDC(exact=False) needs diffusion_kwargs['eps'], the push's stopping threshold "
                         "(1e-4 is the usual choice)")
    if normalization not in ("sym", "col", "row"):
        raise ValueError(f"Transition matrix normalization '{normalization}' not implemented for non-exact GDC "
                         f"computation")
    if normalization == "sym":  # the input's degrees, before the push replaces the edges
        deg = ops.scatter(edge_weight, edge_index[1], dim_size=num_nodes, reduce="sum")
    edge_index, weight = get_ppr(edge_index, alpha=kwargs["alpha"], eps=kwargs["eps"], num_nodes=num_nodes)
    if normalization == "col":
        return edge_index.flip(0), weight
    if normalization == "sym":
        row, col = edge_index
        inv_sqrt = deg.pow(-0.5).masked_fill(deg == 0, 0)
        weight = deg.sqrt()[row] * weight * inv_sqrt[col]
    return edge_index, weight


def sparsify_edges(edge_index: Tensor, edge_weight: Tensor, num_nodes: int, method: str,
                   **kwargs: Any) -> Tuple[Tensor, Tensor]:
    """Edges kept by weight: at least ``eps`` (or the threshold that leaves ``avg_degree``
    edges per node), or the ``k`` heaviest per node of ``edge_index[dim]`` (ties to the earlier
    edge)."""
    if method == "threshold":
        eps = kwargs["eps"] if kwargs.get("eps") is not None else _threshold(edge_weight, num_nodes,
                                                                             kwargs["avg_degree"])
        keep = edge_weight >= eps
        return edge_index[:, keep], edge_weight[keep]
    if method == "topk":
        k, dim = kwargs["k"], kwargs["dim"]
        if dim not in (0, 1):
            raise ValueError(f"topk sparsification: dim must be 0 or 1, got {dim}")
        by_weight = torch.sort(edge_weight, descending=True, stable=True).indices
        order = by_weight[torch.sort(edge_index[dim][by_weight], stable=True).indices]  # per node, heaviest first
        node = edge_index[dim][order]
        first = torch.searchsorted(node, node)  # each edge's node's first position in `order`
        kept = order[torch.arange(node.numel(), device=node.device) - first < k]
        return edge_index[:, kept], edge_weight[kept]
    raise ValueError(f"GDC sparsification '{method}' unknown")


class GDC:
    """Replace the edges by a sparsified diffusion (module docstring); the new weights go to
    ``edge_attr``, as PyG's (an existing 1-D ``edge_attr`` is read as edge weights)."""

    def __init__(self, self_loop_weight: float = 1.0, normalization_in: str = "sym",
                 normalization_out: Optional[str] = "col", diffusion_kwargs: Optional[Dict[str, Any]] = None,
                 sparsification_kwargs: Optional[Dict[str, Any]] = None, exact: bool = True) -> None:
        if not exact and self_loop_weight and self_loop_weight != 1:
            raise ValueError(f"GDC(exact=False) adds self-loops of weight 1 only (the push reads no edge weights), "
                             f"got self_loop_weight={self_loop_weight}")
        self.exact = exact
        self.self_loop_weight, self.normalization_in, self.normalization_out = (self_loop_weight, normalization_in,
                                                                                normalization_out)
        self.diffusion_kwargs = diffusion_kwargs or {"method": "ppr", "alpha": 0.15}
        self.sparsification_kwargs = sparsification_kwargs or {"method": "threshold", "avg_degree": 64}

    def __call__(self, graph: Graph) -> Graph:
        n = graph.num_nodes
        edge_index = graph.edge_index
        weight = graph.edge_attr if graph.edge_attr is not None else torch.ones(edge_index.size(1),
                                                                                  device=edge_index.device)
        if weight.dim() != 1:
            raise ValueError("GDC reads a 1-D edge_attr as edge weights")
        if not self.exact and graph.edge_attr is not None:
            raise ValueError("GDC(exact=False) takes unweighted graphs (the push reads no edge weights): drop "
                             "edge_attr or use exact=True")
        if self.self_loop_weight:
            edge_index, weight = add_self_loops(edge_index, weight, fill_value=self.self_loop_weight, num_nodes=n)
        edge_index, weight = coalesce(edge_index, weight, n)
        if self.exact:
            edge_index, weight = transition_matrix(edge_index, weight, n, self.normalization_in)
            diffusion = diffusion_matrix(edge_index, weight, n, **self.diffusion_kwargs)
            edge_index, weight = sparsify(diffusion, **self.sparsification_kwargs)
        else:
            edge_index, weight = diffusion_approx(edge_index, weight, n, self.normalization_in,
                                                  **self.diffusion_kwargs)
            edge_index, weight = sparsify_edges(edge_index, weight, n, **self.sparsification_kwargs)
        edge_index, weight = coalesce(edge_index, weight, n)
        edge_index, weight = transition_matrix(edge_index, weight, n, self.normalization_out)
        return graph.replace(edge_index=edge_index, edge_attr=weight, edge_weight=None)

    def __repr__(self) -> str:
        return "GDC()"
