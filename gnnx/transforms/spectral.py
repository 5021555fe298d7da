r"""PyG's ``LaplacianLambdaMax``: the largest eigenvalue of a graph's Laplacian, which
``ChebConv`` uses to scale its polynomial (``lambda_max``).

The Laplacian is :func:`gnnx.utils.get_laplacian`'s (``None``: :math:`L = D - A`, ``"sym"``:
:math:`I - D^{-1/2} A D^{-1/2}`, ``"rw"``: :math:`I - D^{-1} A`), with ``edge_attr`` as edge
weights when it holds one per edge (PyG's rule). As PyG, through ARPACK (``scipy``'s ``eigsh``
for an undirected graph and a symmetric normalisation, ``eigs`` otherwise) when scipy is
installed; without it, the same largest-magnitude eigenvalue from a dense eigen-solve in
float64, up to 8,192 nodes.
"""
from __future__ import annotations

from typing import Optional

import torch

from gnnx.graph import Graph
from gnnx.transforms.transform import BaseTransform
from gnnx.utils.laplacian import get_laplacian

DENSE_LIMIT = 8192


class LaplacianLambdaMax(BaseTransform):
    """Store the Laplacian's largest eigenvalue as ``graph.lambda_max`` (a float)."""

    def __init__(self, normalization: Optional[str] = None, is_undirected: bool = False) -> None:
        if normalization not in (None, "sym", "rw"):
            raise ValueError(f"LaplacianLambdaMax: normalization must be None, 'sym' or 'rw', got {normalization!r}")
        self.normalization, self.is_undirected = normalization, is_undirected

    def forward(self, data: Graph) -> Graph:
        weight = data.edge_attr
        if weight is not None and weight.numel() != data.num_edges:
            weight = None  # PyG's rule: only a single weight per edge
        edge_index, weight = get_laplacian(data.edge_index, weight, self.normalization, num_nodes=data.num_nodes)
        symmetric = self.is_undirected and self.normalization != "rw"
        return data.replace(lambda_max=_largest_eigenvalue(edge_index, weight, data.num_nodes, symmetric))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(normalization={self.normalization})"


def _largest_eigenvalue(edge_index: torch.Tensor, weight: torch.Tensor, num_nodes: int, symmetric: bool) -> float:
    try:
        import scipy.sparse
        from scipy.sparse.linalg import eigs, eigsh
    except ImportError:
        scipy = None
    if scipy is not None:
        matrix = scipy.sparse.coo_matrix((weight.detach().cpu().numpy(), edge_index.cpu().numpy()),
                                         shape=(num_nodes, num_nodes))
        solve = eigsh if symmetric else eigs
        return float(solve(matrix, k=1, which="LM", return_eigenvectors=False).real.item())
    if num_nodes > DENSE_LIMIT:
        raise ValueError(f"LaplacianLambdaMax: {num_nodes} nodes need scipy (pip install scipy); without it the "
                         f"dense eigen-solve is limited to {DENSE_LIMIT} nodes")
    dense = torch.zeros(num_nodes, num_nodes, dtype=torch.float64)
    dense.index_put_((edge_index[0].cpu(), edge_index[1].cpu()), weight.detach().cpu().double(), accumulate=True)
    values = torch.linalg.eigvalsh(dense) if symmetric else torch.linalg.eigvals(dense)
    return float(values[values.abs().argmax()].real)
