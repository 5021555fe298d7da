"""Positional encodings: ``AddRandomWalkPE``, ``AddLaplacianEigenvectorPE`` and ``AddGPSE`` (PyG's)."""
from __future__ import annotations

from typing import Any, Optional

import torch

from gnnx import ops
from gnnx.graph import Graph
from gnnx.transforms.graph_ops import VirtualNode
from gnnx.utils import get_laplacian, to_dense_adj


def _store(graph: Graph, attr_name: Optional[str], value: torch.Tensor) -> Graph:
    if attr_name is None:
        x = graph.x
        x = value if x is None else torch.cat([x.view(x.size(0), -1), value.to(x.dtype)], dim=-1)
        return graph.replace(x=x)
    return graph.replace(**{attr_name: value})


class AddRandomWalkPE:
    r"""The probability of returning to each node after :math:`1..k` random-walk steps
    (:math:`\mathrm{diag}((D^{-1}A)^t)`), as ``random_walk_pe [N, walk_length]``; dense
    ``[N, N]`` products, for the small graphs positional encodings are used on."""

    def __init__(self, walk_length: int, attr_name: Optional[str] = "random_walk_pe") -> None:
        self.walk_length, self.attr_name = walk_length, attr_name

    def __call__(self, graph: Graph) -> Graph:
        n = graph.num_nodes
        row, col = graph.edge_index
        weight = graph.edge_weight if graph.edge_weight is not None else torch.ones(row.numel(), device=row.device)
        # PyG's transition matrix: entry (i, j) = 1 / (weighted out-degree of i, at least 1)
        deg = ops.scatter(weight, row, dim_size=n, reduce="sum").clamp(min=1)
        walk = torch.zeros(n, n, device=row.device)
        walk[row, col] = 1.0 / deg[row]
        out, power = [], walk
        for _ in range(self.walk_length):
            out.append(power.diagonal())
            power = power @ walk
        return _store(graph, self.attr_name, torch.stack(out, dim=-1))

    def __repr__(self) -> str:
        return f"AddRandomWalkPE(walk_length={self.walk_length})"


class AddLaplacianEigenvectorPE:
    r"""The ``k`` eigenvectors of the symmetric normalised Laplacian with the smallest
    non-trivial eigenvalues, as ``laplacian_eigenvector_pe [N, k]`` (signs drawn at random,
    as PyG, since an eigenvector's sign is arbitrary)."""

    def __init__(self, k: int, attr_name: Optional[str] = "laplacian_eigenvector_pe", is_undirected: bool = False,
                 generator: Optional[torch.Generator] = None, **kwargs: Any) -> None:
        self.k, self.attr_name, self.is_undirected, self.generator = k, attr_name, is_undirected, generator

    def __call__(self, graph: Graph) -> Graph:
        n = graph.num_nodes
        if self.k >= n:  # the first eigenvector is skipped: k more need k + 1 nodes (PyG's eigsh fails)
            raise ValueError(f"AddLaplacianEigenvectorPE: k={self.k} eigenvectors need at least {self.k + 1} nodes, "
                             f"the graph has {n}")
        edge_index, weight = get_laplacian(graph.edge_index, graph.edge_weight, normalization="sym", num_nodes=n)
        laplacian = to_dense_adj(edge_index, edge_attr=weight, max_num_nodes=n)[0].double()
        values, vectors = torch.linalg.eigh(laplacian) if self.is_undirected else torch.linalg.eig(laplacian)
        if not self.is_undirected:
            order = torch.argsort(values.real)
            values, vectors = values.real[order], vectors.real[:, order]
        pe = vectors[:, 1:self.k + 1].float()
        sign = -1 + 2 * torch.randint(0, 2, (self.k,), generator=self.generator)
        return _store(graph, self.attr_name, pe * sign.to(pe.dtype))

    def __repr__(self) -> str:
        return f"AddLaplacianEigenvectorPE(k={self.k})"


class AddGPSE:
    """GPSE encodings (:class:`~gnnx.nn.GPSE`, a pretrained encoder) as ``pestat_GPSE [N, D]``:
    the model on random features (numpy's global generator, as PyG's) of the graph with a
    virtual node joined to every node (``use_vn``), the virtual node's row dropped. PyG's
    transform passes ``"NormalSE"`` whatever ``rand_type`` says; gnnx's uses ``rand_type``."""

    def __init__(self, model: torch.nn.Module, use_vn: bool = True, rand_type: str = "NormalSE") -> None:
        self.model, self.use_vn, self.rand_type = model, use_vn, rand_type
        self.vn = VirtualNode()

    def __call__(self, graph: Graph) -> Graph:
        from gnnx.nn.gpse import gpse_process

        with_vn = self.vn(graph) if self.use_vn else graph
        out = gpse_process(self.model, with_vn, self.rand_type, self.use_vn)
        return graph.replace(pestat_GPSE=out[:-1] if self.use_vn else out)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"
