r"""Path integral based GNNs (PAN, Ma et al., 2020, `arXiv:2006.16811
<https://arxiv.org/abs/2006.16811>`_): ``PANConv`` and ``PANPooling``, PyG's layers.

``PANConv`` weighs every path of up to ``filter_size`` steps: with the (destination-row)
adjacency :math:`\mathbf{A}` and trainable weights :math:`w_0 .. w_L`,

.. math::
    \mathbf{M} = \mathbf{D}^{-1/2} \Big(\sum_{l=0}^{L} \Big(\prod_{m \le l} w_m\Big)
    \mathbf{A}^l\Big) \mathbf{D}^{-1/2}, \qquad \mathbf{X}' = \mathbf{M}\mathbf{X}\mathbf{\Theta},

:math:`\mathbf{D}` counting each row's entries of the path sum (as PyG). It returns
``(X', M)``; ``PANPooling`` scores nodes by :math:`\beta_1 \mathbf{X}\mathbf{p} + \beta_2
\sum_i M_{ij}` and keeps the top ones per graph with their ``M`` entries as edge weights.

PyG's layers need torch-sparse (``M`` is a ``SparseTensor``); here ``M`` is a coalesced torch
sparse COO tensor (``[N, N]``, rows the destinations), and gradients reach the path weights.
The path sum's size comes from the data: eager layers, as PyG's.
"""
from __future__ import annotations

from typing import Callable, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.linear import Linear
from gnnx.nn.pool import SelectTopK, _topk_pool
from gnnx.utils import scatter


class PANConv(torch.nn.Module):
    """The path integral convolution (module docstring).

    Args:
        in_channels, out_channels: feature widths.
        filter_size: the longest path :math:`L`.
        aggr: ``"add"`` (PyG's default; the path sum is already normalised).
    """

    def __init__(self, in_channels: int, out_channels: int, filter_size: int, aggr: str = "add") -> None:
        super().__init__()
        if aggr not in ("add", "sum"):
            raise ValueError(f"PANConv aggregates with a sparse product: aggr must be 'add' (got {aggr!r})")
        self.in_channels, self.out_channels, self.filter_size, self.aggr = in_channels, out_channels, filter_size, aggr
        self.lin = Linear(in_channels, out_channels)
        self.weight = torch.nn.Parameter(torch.empty(filter_size + 1))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.weight.data.fill_(0.5)

    def path_matrix(self, edge_index: Tensor, num_nodes: int, dtype: torch.dtype) -> Tensor:
        """:math:`\\mathbf{M}` of the module docstring as a coalesced sparse COO tensor."""
        size = (num_nodes, num_nodes)
        adjacency = torch.sparse_coo_tensor(torch.stack([edge_index[1], edge_index[0]]),
                                            torch.ones(edge_index.size(1), dtype=dtype, device=edge_index.device),
                                            size).coalesce()
        eye = torch.arange(num_nodes, device=edge_index.device)
        term = torch.sparse_coo_tensor(torch.stack([eye, eye]), self.weight[0].expand(num_nodes).to(dtype),
                                       size).coalesce()
        indices, values = [term.indices()], [term.values()]
        for step in range(1, self.filter_size + 1):
            product = torch.sparse.mm(term, adjacency).coalesce()
            term = torch.sparse_coo_tensor(product.indices(), product.values() * self.weight[step], size).coalesce()
            indices.append(term.indices())
            values.append(term.values())
        paths = torch.sparse_coo_tensor(torch.cat(indices, 1), torch.cat(values), size).coalesce()
        row, col = paths.indices()
        inv_sqrt = torch.bincount(row, minlength=num_nodes).to(dtype).pow(-0.5)
        inv_sqrt = inv_sqrt.masked_fill(torch.isinf(inv_sqrt), 0.0)
        return torch.sparse_coo_tensor(paths.indices(), inv_sqrt[row] * paths.values() * inv_sqrt[col], size).coalesce()

    def forward(self, x: Tensor, edge_index: Tensor) -> Tuple[Tensor, Tensor]:
        if edge_index.layout != torch.strided:
            from gnnx.utils import to_edge_index

            edge_index = to_edge_index(edge_index.to_sparse_coo() if edge_index.layout != torch.sparse_coo
                                       else edge_index)[0].flip(0)  # an adj_t: rows are destinations
        paths = self.path_matrix(edge_index, x.size(0), x.dtype)
        return self.lin(torch.sparse.mm(paths, x)), paths

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.in_channels}, {self.out_channels}, filter_size={self.filter_size})"


class PANPooling(torch.nn.Module):
    """PAN's pooling (module docstring): returns ``(x, edge_index, edge_weight, batch, perm,
    score)`` of the kept nodes.

    Args: ``in_channels``, ``ratio``, ``min_score``, ``multiplier``, ``nonlinearity`` as
    :class:`~gnnx.nn.TopKPooling`.
    """

    static = False  # the kept nodes come from the data (PyG's top-k)

    def __init__(self, in_channels: int, ratio: float = 0.5, min_score: Optional[float] = None,
                 multiplier: float = 1.0, nonlinearity: Union[str, Callable] = "tanh") -> None:
        super().__init__()
        self.in_channels, self.ratio, self.min_score, self.multiplier = in_channels, ratio, min_score, multiplier
        self.p = torch.nn.Parameter(torch.empty(in_channels))
        self.beta = torch.nn.Parameter(torch.empty(2))
        self.select = SelectTopK(1, ratio, min_score, nonlinearity)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.p.data.fill_(1)
        self.beta.data.fill_(0.5)
        self.select.reset_parameters()

    def forward(self, x: Tensor, M: Tensor, batch: Optional[Tensor] = None):
        if M.layout != torch.sparse_coo:
            raise ValueError(f"PANPooling takes the path matrix PANConv returns (sparse COO), got layout {M.layout}")
        batch = torch.zeros(x.size(0), dtype=torch.long, device=x.device) if batch is None else batch
        batch_size = int(batch.max()) + 1 if batch.numel() else 0
        M = M.coalesce()
        (row, col), weight = M.indices(), M.values()
        score = self.beta[0] * (x * self.p).sum(dim=-1) + self.beta[1] * scatter(weight, col, 0, x.size(0), "sum")
        score = self.select(score, batch, batch_size)
        return _topk_pool(self, x, torch.stack([col, row]), weight, batch, batch_size, score)

    def __repr__(self) -> str:
        arg = f"ratio={self.ratio}" if self.min_score is None else f"min_score={self.min_score}"
        return f"{type(self).__name__}({self.in_channels}, {arg}, multiplier={self.multiplier})"
