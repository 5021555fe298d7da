r"""Temporal Graph Networks (TGN): a memory per node, updated by the events it takes part in
(PyG's ``torch_geometric.nn.models.tgn``, from `"Temporal Graph Networks for Deep Learning on
Dynamic Graphs" <https://arxiv.org/abs/2006.10637>`_).

Each node :math:`i` holds a memory :math:`\mathbf{s}_i` and the time :math:`t^-_i` of its last
update. An event :math:`(i, j, t, \mathbf{e})` gives both ends a message

.. math::
    \mathbf{m}_{i} = \mathrm{msg}_s\big(\mathbf{s}_i, \mathbf{s}_j, \mathbf{e},
    \phi(t - t^-_i)\big), \qquad
    \mathbf{m}_{j} = \mathrm{msg}_d\big(\mathbf{s}_j, \mathbf{s}_i, \mathbf{e}, \phi(t - t^-_j)\big),

with the time encoding :math:`\phi(\Delta t) = \cos(\mathbf{w}\,\Delta t + \mathbf{b})`; a node's
messages are aggregated (:class:`LastAggregator`: the latest, :class:`MeanAggregator`: their mean)
and update its memory through a GRU cell, :math:`\mathbf{s}_i \leftarrow
\mathrm{GRU}(\bar{\mathbf{m}}_i, \mathbf{s}_i)`. As in PyG, a batch's events are stored when the
batch is seen and turned into memory updates the next time their nodes are read, so a batch's
own events never leak into its predictions during training.

PyG keeps the stored events in one Python dictionary entry per node, rebuilt for every node at
each reset and walked node by node at each read; here they are four tensors (the events' node,
other end, time and message), grouped by node, so storing and reading a batch are a few tensor
operations whatever the number of nodes. The memory values, messages and their order per node
are PyG's, so the memories are PyG's (``tests/nn/test_tgn.py``, and the speed in
``bench/results/cpu/tgn.md``).
"""
from __future__ import annotations

import copy
from typing import Callable, NamedTuple, Tuple

import torch
from torch import Tensor
from torch.nn import GRUCell, Linear

from gnnx.ops.scatter import scatter


class EventStore(NamedTuple):
    """Stored events, grouped by ``node`` (the end they are stored for) in PyG's order;
    ``rowptr[n] .. rowptr[n + 1]`` are node ``n``'s (built once per store, read per batch)."""

    node: Tensor
    other: Tensor
    t: Tensor
    msg: Tensor
    rowptr: Tensor


def _event_store(node: Tensor, other: Tensor, t: Tensor, msg: Tensor, num_nodes: int) -> EventStore:
    """The store of these events (``node`` sorted), with its row pointers."""
    counts = torch.bincount(node, minlength=num_nodes)
    return EventStore(node, other, t, msg, torch.cat([counts.new_zeros(1), torch.cumsum(counts, 0)]))


def _empty_store(memory: Tensor, raw_msg_dim: int) -> EventStore:
    index = torch.empty(0, dtype=torch.long, device=memory.device)
    return _event_store(index, index, index, memory.new_empty((0, raw_msg_dim)), memory.size(0))


def _segments(rowptr: Tensor, n_id: Tensor) -> Tensor:
    """The positions of rows ``rowptr[n] .. rowptr[n + 1]`` for each ``n`` of ``n_id``, in order."""
    starts, counts = rowptr[n_id], rowptr[n_id + 1] - rowptr[n_id]
    offsets = torch.cumsum(counts, 0) - counts
    total = int(counts.sum())
    return (torch.repeat_interleave(starts - offsets, counts, output_size=total)
            + torch.arange(total, device=n_id.device))


class TGNMemory(torch.nn.Module):
    r"""TGN's node memory (PyG's arguments, buffers and parameter names).

    Args:
        num_nodes: nodes to hold a memory for.
        raw_msg_dim: width of the events' messages.
        memory_dim: width of a node's memory.
        time_dim: width of the time encoding.
        message_module: ``(s_src, s_dst, raw_msg, t_enc) -> message`` with an ``out_channels``
            attribute (e.g. :class:`IdentityMessage`); copied for the destination side.
        aggregator_module: ``(msg, index, t, dim_size) -> [dim_size, F]`` (e.g.
            :class:`LastAggregator`).

    ``forward(n_id)`` returns ``(memory, last_update)`` of those nodes (in training, with the
    stored events applied, so gradients reach the message modules and the GRU);
    ``update_state(src, dst, t, raw_msg)`` applies the stored events of the batch's nodes and
    stores the batch's own. ``detach()`` cuts the memory from the graph between batches.
    """

    def __init__(self, num_nodes: int, raw_msg_dim: int, memory_dim: int, time_dim: int,
                 message_module: Callable, aggregator_module: Callable) -> None:
        super().__init__()
        self.num_nodes, self.raw_msg_dim = num_nodes, raw_msg_dim
        self.memory_dim, self.time_dim = memory_dim, time_dim
        self.msg_s_module = message_module
        self.msg_d_module = copy.deepcopy(message_module)
        self.aggr_module = aggregator_module
        self.time_enc = TimeEncoder(time_dim)
        self.gru = GRUCell(message_module.out_channels, memory_dim)
        self.register_buffer("memory", torch.empty(num_nodes, memory_dim))
        self.register_buffer("last_update", torch.empty(num_nodes, dtype=torch.long))
        self.register_buffer("_assoc", torch.empty(num_nodes, dtype=torch.long))
        self.reset_parameters()

    @property
    def device(self) -> torch.device:
        return self.time_enc.lin.weight.device

    def reset_parameters(self) -> None:
        for module in (self.msg_s_module, self.msg_d_module, self.aggr_module):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()
        self.time_enc.reset_parameters()
        self.gru.reset_parameters()
        self.reset_state()

    def reset_state(self) -> None:
        """Zero memories and update times, no stored events."""
        with torch.no_grad():
            self.memory.zero_()
            self.last_update.zero_()
        self._reset_message_store()

    def detach(self) -> None:
        """Detach the memory from the autograd graph (call after each optimiser step)."""
        self.memory.detach_()

    def _apply(self, fn, recurse: bool = True):
        out = super()._apply(fn, recurse)
        if "msg_s_store" in self.__dict__:
            self._move_stores()
        return out

    def _move_stores(self) -> None:
        """The stored events follow the memory's device (and their messages its dtype)."""
        def moved(store: EventStore) -> EventStore:
            device = self.memory.device
            return EventStore(store.node.to(device), store.other.to(device), store.t.to(device),
                              store.msg.to(device, self.memory.dtype if store.msg.is_floating_point() else None),
                              store.rowptr.to(device))

        self.msg_s_store, self.msg_d_store = moved(self.msg_s_store), moved(self.msg_d_store)

    # -- the public calls ----------------------------------------------------------------------
    def forward(self, n_id: Tensor) -> Tuple[Tensor, Tensor]:
        """``(memory [len(n_id), memory_dim], last_update [len(n_id)])`` of the nodes ``n_id``."""
        self._check_nodes("n_id", n_id)
        if self.training:
            return self._get_updated_memory(n_id)
        return self.memory[n_id], self.last_update[n_id]

    def update_state(self, src: Tensor, dst: Tensor, t: Tensor, raw_msg: Tensor) -> None:
        """Take in a batch of events ``(src, dst, t, raw_msg)``."""
        self._check_nodes("src", src)
        self._check_nodes("dst", dst)
        if t.shape != src.shape or dst.shape != src.shape:
            raise ValueError(f"TGNMemory.update_state: src {list(src.shape)}, dst {list(dst.shape)} and t "
                             f"{list(t.shape)} must have one entry per event")
        if raw_msg.dim() != 2 or raw_msg.shape != (src.size(0), self.raw_msg_dim):
            raise ValueError(f"TGNMemory.update_state: raw_msg must be [num_events, raw_msg_dim] = "
                             f"[{src.size(0)}, {self.raw_msg_dim}], got {list(raw_msg.shape)}")
        if raw_msg.is_floating_point() and not bool(torch.isfinite(raw_msg).all()):
            raise ValueError("TGNMemory.update_state: raw_msg contains NaN or infinite values")
        n_id = torch.cat([src, dst]).unique()
        if self.training:  # the stored events first, so the batch's own do not reach its loss
            self._update_memory(n_id)
            self.msg_s_store = self._stored(src, dst, t, raw_msg, self.msg_s_store)
            self.msg_d_store = self._stored(dst, src, t, raw_msg, self.msg_d_store)
        else:
            self.msg_s_store = self._stored(src, dst, t, raw_msg, self.msg_s_store)
            self.msg_d_store = self._stored(dst, src, t, raw_msg, self.msg_d_store)
            self._update_memory(n_id)

    def train(self, mode: bool = True) -> "TGNMemory":
        if self.training and not mode:  # entering evaluation: apply every stored event first
            self._update_memory(torch.arange(self.num_nodes, device=self.memory.device))
            self._reset_message_store()
        return super().train(mode)

    # -- internals ------------------------------------------------------------------------------
    def _check_nodes(self, name: str, index: Tensor) -> None:
        if not isinstance(index, Tensor) or index.dtype != torch.long or index.dim() != 1:
            got = f"{index.dtype} of shape {list(index.shape)}" if isinstance(index, Tensor) else type(index).__name__
            raise TypeError(f"TGNMemory: {name} must be an int64 vector of node indices, got {got}")
        if index.numel() and (int(index.min()) < 0 or int(index.max()) >= self.num_nodes):
            raise ValueError(f"TGNMemory: {name} holds node indices outside [0, {self.num_nodes}) "
                             f"(min {int(index.min())}, max {int(index.max())})")

    def _reset_message_store(self) -> None:
        self.msg_s_store = _empty_store(self.memory, self.raw_msg_dim)
        self.msg_d_store = _empty_store(self.memory, self.raw_msg_dim)

    def _stored(self, node: Tensor, other: Tensor, t: Tensor, raw_msg: Tensor, store: EventStore) -> EventStore:
        """``store`` with the events of every node in ``node`` replaced by this batch's (PyG:
        a node keeps the events of the last batch it was stored for)."""
        _, perm = node.sort()  # PyG's call: its order of a node's events
        replaced = torch.zeros(self.num_nodes, dtype=torch.bool, device=node.device)
        replaced[node] = True
        keep = ~replaced[store.node]
        device = store.node.device
        joined = (torch.cat([store.node[keep], node[perm].to(device)]),
                  torch.cat([store.other[keep], other[perm].to(device)]),
                  torch.cat([store.t[keep], t[perm].to(device)]),
                  torch.cat([store.msg[keep], raw_msg[perm].to(device)]))
        order = joined[0].argsort(stable=True)  # grouped by node, each node's events in order
        return _event_store(*(field[order] for field in joined), self.num_nodes)

    def _messages(self, n_id: Tensor, store: EventStore, msg_module: Callable) -> Tuple[Tensor, Tensor, Tensor]:
        """``(messages, t, node)`` of the events stored for ``n_id``, node by node in ``n_id``'s order."""
        rows = _segments(store.rowptr, n_id.to(store.rowptr.device))
        node, other, t, raw_msg = (field[rows].to(self.device) for field in store[:4])
        t_enc = self.time_enc((t - self.last_update[node]).to(raw_msg.dtype))
        return msg_module(self.memory[node], self.memory[other], raw_msg, t_enc), t, node

    def _get_updated_memory(self, n_id: Tensor) -> Tuple[Tensor, Tensor]:
        self._assoc[n_id] = torch.arange(n_id.size(0), device=n_id.device)
        msg_s, t_s, node_s = self._messages(n_id, self.msg_s_store, self.msg_s_module)
        msg_d, t_d, node_d = self._messages(n_id, self.msg_d_store, self.msg_d_module)
        index, t = torch.cat([node_s, node_d]), torch.cat([t_s, t_d])
        aggregated = self.aggr_module(torch.cat([msg_s, msg_d]), self._assoc[index], t, n_id.size(0))
        memory = self.gru(aggregated, self.memory[n_id])
        # PyG's: a node without stored events gets last_update 0 (an empty max)
        last_update = scatter(t, index, self.num_nodes, "max")[n_id]
        return memory, last_update

    def _update_memory(self, n_id: Tensor) -> None:
        memory, last_update = self._get_updated_memory(n_id)
        self.memory[n_id] = memory
        self.last_update[n_id] = last_update

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.num_nodes}, memory_dim={self.memory_dim}, time_dim={self.time_dim})"


class IdentityMessage(torch.nn.Module):
    """TGN's message without parameters: ``[s_src || s_dst || raw_msg || t_enc]``."""

    def __init__(self, raw_msg_dim: int, memory_dim: int, time_dim: int) -> None:
        super().__init__()
        self.out_channels = raw_msg_dim + 2 * memory_dim + time_dim

    def forward(self, z_src: Tensor, z_dst: Tensor, raw_msg: Tensor, t_enc: Tensor) -> Tensor:
        return torch.cat([z_src, z_dst, raw_msg, t_enc], dim=-1)


class LastAggregator(torch.nn.Module):
    """Each node's message with the latest time stamp (of equal ones, the last in order);
    zeros for a node without messages."""

    def forward(self, msg: Tensor, index: Tensor, t: Tensor, dim_size: int) -> Tensor:
        if msg.size(0) == 0:  # zeros that stay in the graph (zero gradients, as PyG's)
            return scatter(msg, index, dim_size, "sum")
        latest = scatter(t, index, dim_size, "max")
        position = torch.arange(msg.size(0), device=msg.device)
        # the last position holding its node's latest time; -1 where a node has no message
        winner = torch.full((dim_size,), -1, dtype=torch.long, device=msg.device)
        winner = winner.scatter_reduce(0, index, torch.where(t == latest[index], position, -1), "amax")
        out = msg[winner.clamp(min=0)]
        return torch.where((winner >= 0).unsqueeze(-1), out, torch.zeros_like(out))


class MeanAggregator(torch.nn.Module):
    """The mean of each node's messages (zeros for a node without messages)."""

    def forward(self, msg: Tensor, index: Tensor, t: Tensor, dim_size: int) -> Tensor:
        return scatter(msg, index, dim_size, "mean")


class TimeEncoder(torch.nn.Module):
    r"""TGN's time encoding :math:`\cos(\mathbf{w}\,\Delta t + \mathbf{b})`."""

    def __init__(self, out_channels: int) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.lin = Linear(1, out_channels)

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()

    def forward(self, t: Tensor) -> Tensor:
        return self.lin(t.view(-1, 1)).cos()


class LastNeighborLoader:
    """The ``size`` most recent interactions of every node (PyG's TGN neighbour loader): each
    event joins both ends; ``loader(n_id)`` returns ``(n_id, edge_index, e_id)``, the nodes
    and their stored neighbours relabelled into one sorted node set, the edges neighbour ->
    node, and the event ids."""

    def __init__(self, num_nodes: int, size: int, device=None) -> None:
        self.size, self.num_nodes = size, num_nodes
        self.neighbors = torch.empty((num_nodes, size), dtype=torch.long, device=device)
        self.e_id = torch.empty((num_nodes, size), dtype=torch.long, device=device)
        self._assoc = torch.empty(num_nodes, dtype=torch.long, device=device)
        self.reset_state()

    def __call__(self, n_id: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
        neighbors, e_id = self.neighbors[n_id], self.e_id[n_id]
        nodes = n_id.view(-1, 1).repeat(1, self.size)
        valid = e_id >= 0  # slots never filled hold -1
        neighbors, nodes, e_id = neighbors[valid], nodes[valid], e_id[valid]
        n_id = torch.cat([n_id, neighbors]).unique()
        self._assoc[n_id] = torch.arange(n_id.size(0), device=n_id.device)
        return n_id, torch.stack([self._assoc[neighbors], self._assoc[nodes]]), e_id

    def insert(self, src: Tensor, dst: Tensor) -> None:
        """Add a batch of events (both directions), keeping each node's ``size`` latest."""
        if src.numel() and max(int(src.max()), int(dst.max())) >= self.num_nodes:
            raise ValueError(f"LastNeighborLoader.insert: node indices must be below num_nodes={self.num_nodes}")
        neighbors, nodes = torch.cat([src, dst]), torch.cat([dst, src])
        e_id = torch.arange(self.cur_e_id, self.cur_e_id + src.size(0), device=src.device).repeat(2)
        self.cur_e_id += src.numel()
        # by node, then event id; of a node's events in this batch only its `size` latest can stay
        # (PyG's keeps the last `size` in its sort order, written to shared slots, which on CUDA
        # leaves undefined which ones survive)
        perm = torch.argsort(nodes * self.cur_e_id + e_id)
        nodes, neighbors, e_id = nodes[perm], neighbors[perm], e_id[perm]
        n_id, counts = torch.unique_consecutive(nodes, return_counts=True)
        self._assoc[n_id] = torch.arange(n_id.numel(), device=n_id.device)
        position = torch.arange(nodes.size(0), device=nodes.device)
        latest = position >= torch.cumsum(counts, 0)[self._assoc[nodes]] - self.size
        nodes, neighbors, e_id, position = nodes[latest], neighbors[latest], e_id[latest], position[latest]
        # the batch's events in a dense [len(n_id), size] layout (PyG's slots, -1 where empty)
        dense_id = position % self.size + self._assoc[nodes] * self.size
        dense_e_id = e_id.new_full((n_id.numel() * self.size,), -1)
        dense_e_id[dense_id] = e_id
        dense_neighbors = e_id.new_empty(n_id.numel() * self.size)
        dense_neighbors[dense_id] = neighbors
        # old and new together, the latest `size` by event id
        e_id = torch.cat([self.e_id[n_id, :self.size], dense_e_id.view(-1, self.size)], dim=-1)
        neighbors = torch.cat([self.neighbors[n_id, :self.size], dense_neighbors.view(-1, self.size)], dim=-1)
        e_id, perm = e_id.topk(self.size, dim=-1)
        self.e_id[n_id] = e_id
        self.neighbors[n_id] = torch.gather(neighbors, 1, perm)

    def reset_state(self) -> None:
        self.cur_e_id = 0
        self.e_id.fill_(-1)
