r"""Graph U-Net, `"Graph U-Nets" <https://arxiv.org/abs/1905.05178>`_ (PyG's ``GraphUNet``:
arguments, state_dict keys, repr, values and gradients).

Down the U, each level squares the adjacency (two-hop neighbours join, self loops weighted 1
before squaring, none after), keeps the top-scoring nodes (:class:`~gnnx.nn.TopKPooling`)
and applies an improved GCN layer (:math:`\hat{\mathbf{A}} = \mathbf{A} + 2\mathbf{I}`);
back up, each level scatters the coarse features to the kept nodes' rows, adds (or joins)
the skip connection of that level and applies another GCN layer:

.. math::
    \mathbf{X}^{(l+1)} = \sigma\big(\mathrm{GCN}_{\downarrow}\big(\mathrm{TopK}(\mathbf{X}^{(l)},
    (\mathbf{A}^{(l)})^2)\big)\big), \qquad
    \mathbf{X}^{(l)}_{\uparrow} = \mathrm{GCN}_{\uparrow}\big(\mathbf{X}^{(l)} + \mathrm{unpool}(\mathbf{X}^{(l+1)}_{\uparrow})\big).

Eager only, as PyG's: the squared adjacency's size and each level's kept nodes depend on the
data (a sparse product and PyG's top-k pooling), so the model reads sizes on the host.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Tuple, Union

import torch
from torch import Tensor

from gnnx.nn.conv.gcn import GCNConv
from gnnx.nn.inits import activation
from gnnx.nn.pool import TopKPooling
from gnnx.utils.loop import add_self_loops, remove_self_loops


class GraphUNet(torch.nn.Module):
    """Graph U-Net (module docstring), with PyG's arguments:

    Args:
        in_channels, hidden_channels, out_channels: feature sizes.
        depth: pooling levels (at least 1).
        pool_ratios: the share of nodes each level keeps (one value for all, or one per level).
        sum_res: add the skip connections (``False``: concatenate them).
        act: the nonlinearity, by name or callable.

    ``forward(x, edge_index, batch=None, edge_weight=None)`` returns ``[N, out_channels]``.
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, depth: int,
                 pool_ratios: Union[float, List[float]] = 0.5, sum_res: bool = True,
                 act: Union[str, Callable] = "relu") -> None:
        super().__init__()
        if depth < 1:
            raise ValueError(f"GraphUNet: depth must be at least 1, got {depth}")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.depth, self.sum_res = depth, sum_res
        ratios = list(pool_ratios) if isinstance(pool_ratios, (list, tuple)) else [pool_ratios]
        self.pool_ratios = (ratios + ratios[-1:] * depth)[:depth]  # as PyG's repeat()
        self.act = activation(act)
        channels = hidden_channels
        self.down_convs = torch.nn.ModuleList([GCNConv(in_channels, channels, improved=True)])
        self.pools = torch.nn.ModuleList()
        for ratio in self.pool_ratios:
            self.pools.append(TopKPooling(channels, ratio))
            self.down_convs.append(GCNConv(channels, channels, improved=True))
        up_in = channels if sum_res else 2 * channels
        self.up_convs = torch.nn.ModuleList([GCNConv(up_in, channels, improved=True) for _ in range(depth - 1)]
                                            + [GCNConv(up_in, out_channels, improved=True)])
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for module in [*self.down_convs, *self.pools, *self.up_convs]:
            module.reset_parameters()

    def forward(self, x: Tensor, edge_index: Tensor, batch: Optional[Tensor] = None,
                edge_weight: Optional[Tensor] = None) -> Tensor:
        if batch is None:
            batch = edge_index.new_zeros(x.size(0))
        if edge_weight is None:
            edge_weight = x.new_ones(edge_index.size(1))
        if edge_weight.dim() != 1 or edge_weight.size(0) != edge_index.size(1):
            raise ValueError(f"GraphUNet: edge_weight must hold one value per edge ({edge_index.size(1)}), "
                             f"got shape {list(edge_weight.shape)}")
        x = self.act(self.down_convs[0](x, edge_index, edge_weight))
        levels = [(x, edge_index, edge_weight)]  # the skip connection and graph of each level
        perms = []
        for i in range(1, self.depth + 1):
            edge_index, edge_weight = self.augment_adj(edge_index, edge_weight, x.size(0))
            x, edge_index, edge_weight, batch, perm, _ = self.pools[i - 1](x, edge_index, edge_weight, batch)
            x = self.act(self.down_convs[i](x, edge_index, edge_weight))
            if i < self.depth:
                levels.append((x, edge_index, edge_weight))
            perms.append(perm)
        for i in range(self.depth):
            res, edge_index, edge_weight = levels[self.depth - 1 - i]
            up = torch.zeros_like(res).index_copy(0, perms[self.depth - 1 - i], x)
            x = res + up if self.sum_res else torch.cat((res, up), dim=-1)
            x = self.up_convs[i](x, edge_index, edge_weight)
            if i < self.depth - 1:
                x = self.act(x)
        return x

    def augment_adj(self, edge_index: Tensor, edge_weight: Tensor, num_nodes: int) -> Tuple[Tensor, Tensor]:
        """The weighted adjacency squared (self loops of weight 1 added first, removed after)."""
        edge_index, edge_weight = remove_self_loops(edge_index, edge_weight)
        edge_index, edge_weight = add_self_loops(edge_index, edge_weight, num_nodes=num_nodes)
        adj = torch.sparse_coo_tensor(edge_index, edge_weight, (num_nodes, num_nodes)).coalesce().to_sparse_csr()
        squared = (adj @ adj).to_sparse_coo().coalesce()
        return remove_self_loops(squared.indices(), squared.values())

    def __repr__(self) -> str:
        return (f"{type(self).__name__}({self.in_channels}, {self.hidden_channels}, {self.out_channels}, "
                f"depth={self.depth}, pool_ratios={self.pool_ratios})")
