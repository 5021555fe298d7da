r"""GraphMixer's encoders (PyG's ``torch_geometric.nn.models.graph_mixer``), from `"Do We Really
Need Complicated Model Architectures for Temporal Networks?" <https://openreview.net/forum?id=ayPPc0SyLv1>`_.

* :class:`NodeEncoder`: a node's features plus the mean of its in-neighbours' features over the
  edges inside the window ``(t_0 - T, t_0]`` before the node's seed time :math:`t_0`.
* :class:`LinkEncoder`: each node's ``k`` latest incoming edges up to its seed time, each
  encoded as ``[cos time encoding of t_0 - t || edge features]`` through a linear layer, then
  summarised by an MLP-Mixer over the ``k`` slots (zeros where a node has fewer edges).

PyG's keys, arguments and values. PyG drops the edges outside the window (a data-dependent
shape) and sorts on the host with numpy; here every edge stays, masked, and a node's latest
edges are ranked with torch sorts, so both encoders compile without recompiles and export
with dynamic node and edge counts.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torch.nn import LayerNorm, Linear

from gnnx.nn.encoding import TemporalEncoding
from gnnx.ops.scatter import scatter


class NodeEncoder(torch.nn.Module):
    r""":math:`\mathbf{x}'_v = \mathbf{x}_v + \mathrm{mean}\{\mathbf{x}_w : w \to v,\ t_0 - T <
    t_{wv} \le t_0\}` (zeros for no such edge)."""

    def __init__(self, time_window: int) -> None:
        super().__init__()
        self.time_window = time_window

    def reset_parameters(self) -> None:
        pass

    def forward(self, x: Tensor, edge_index: Tensor, edge_time: Tensor, seed_time: Tensor) -> Tensor:
        seed = seed_time[edge_index[1]]
        inside = (edge_time <= seed) & (edge_time > seed - self.time_window)
        return x + scatter(x[edge_index[0]], edge_index[1], x.size(0), "mean", mask=inside)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(time_window={self.time_window})"


class _MLPMixer(torch.nn.Module):
    """Token mixing over the ``num_tokens`` slots, channel mixing, then the mean over slots."""

    def __init__(self, num_tokens: int, in_channels: int, out_channels: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.dropout = dropout
        self.token_norm = LayerNorm(in_channels)
        self.token_lin1 = Linear(num_tokens, num_tokens // 2)
        self.token_lin2 = Linear(num_tokens // 2, num_tokens)
        self.channel_norm = LayerNorm(in_channels)
        self.channel_lin1 = Linear(in_channels, 4 * in_channels)
        self.channel_lin2 = Linear(4 * in_channels, in_channels)
        self.head_norm = LayerNorm(in_channels)
        self.head_lin = Linear(in_channels, out_channels)

    def reset_parameters(self) -> None:
        for module in (self.token_norm, self.token_lin1, self.token_lin2, self.channel_norm, self.channel_lin1,
                       self.channel_lin2, self.head_norm, self.head_lin):
            module.reset_parameters()

    def _mlp(self, h: Tensor, first: Linear, second: Linear) -> Tensor:
        h = F.dropout(F.gelu(first(h)), p=self.dropout, training=self.training)
        return F.dropout(second(h), p=self.dropout, training=self.training)

    def forward(self, x: Tensor) -> Tensor:
        tokens = self._mlp(self.token_norm(x).mT, self.token_lin1, self.token_lin2).mT + x
        channels = self._mlp(self.channel_norm(tokens), self.channel_lin1, self.channel_lin2) + tokens
        return self.head_lin(self.head_norm(channels).mean(dim=1))


def latest_k_edge_attr(k: int, edge_index: Tensor, edge_attr: Tensor, edge_time: Tensor, num_nodes,
                       valid: Tensor) -> Tensor:
    """``[num_nodes, k, F]``: each node's ``k`` latest ``valid`` incoming edges' rows (latest
    first, equal times in edge order, as PyG's numpy ``lexsort``), zeros where it has fewer."""
    col = torch.where(valid, edge_index[1], torch.full_like(edge_index[1], num_nodes))  # invalid ones last
    order = torch.argsort(-edge_time.to(torch.float64) if edge_time.is_floating_point() else -edge_time, stable=True)
    order = order[torch.argsort(col[order], stable=True)]  # by node, then latest first
    counts = torch.zeros(num_nodes + 1, dtype=torch.long, device=col.device).index_add_(0, col, torch.ones_like(col))
    start = torch.cumsum(counts, 0) - counts
    sorted_col = col[order]
    rank = torch.arange(order.numel(), device=col.device) - start[sorted_col]
    keep = (sorted_col < num_nodes) & (rank < k)
    slot = torch.where(keep, sorted_col * k + rank, torch.full_like(rank, num_nodes * k))  # a sink past the end
    out = edge_attr.new_zeros((num_nodes * k + 1, edge_attr.size(-1)))
    out = out.index_copy(0, slot, edge_attr[order])
    return out[:-1].view(num_nodes, k, -1)


class LinkEncoder(torch.nn.Module):
    """PyG's ``LinkEncoder(k, in_channels, hidden_channels, out_channels, time_channels,
    is_sorted=False, dropout=0.0)``; ``forward(edge_index, edge_attr, edge_time, seed_time)``
    gives ``[len(seed_time), out_channels]``. ``is_sorted`` is accepted and changes nothing
    (the ranking here costs two sorts either way)."""

    def __init__(self, k: int, in_channels: int, hidden_channels: int, out_channels: int, time_channels: int,
                 is_sorted: bool = False, dropout: float = 0.0) -> None:
        super().__init__()
        self.k, self.in_channels, self.hidden_channels = k, in_channels, hidden_channels
        self.out_channels, self.time_channels, self.is_sorted, self.dropout = out_channels, time_channels, is_sorted, dropout
        self.temporal_encoder = TemporalEncoding(time_channels)
        self.temporal_head = Linear(time_channels + in_channels, hidden_channels)
        self.mlp_mixer = _MLPMixer(num_tokens=k, in_channels=hidden_channels, out_channels=out_channels,
                                   dropout=dropout)

    def reset_parameters(self) -> None:
        self.temporal_encoder.reset_parameters()
        self.temporal_head.reset_parameters()
        self.mlp_mixer.reset_parameters()

    def forward(self, edge_index: Tensor, edge_attr: Tensor, edge_time: Tensor, seed_time: Tensor) -> Tensor:
        seed = seed_time[edge_index[1]]
        valid = edge_time <= seed
        encoded = self.temporal_head(torch.cat([self.temporal_encoder(seed - edge_time), edge_attr], dim=-1))
        slots = latest_k_edge_attr(self.k, edge_index, encoded, edge_time, seed_time.size(0), valid)
        return self.mlp_mixer(slots)

    def __repr__(self) -> str:
        return (f"{type(self).__name__}(k={self.k}, in_channels={self.in_channels}, "
                f"hidden_channels={self.hidden_channels}, out_channels={self.out_channels}, "
                f"time_channels={self.time_channels}, dropout={self.dropout})")
