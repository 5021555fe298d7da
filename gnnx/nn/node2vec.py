r"""Node2Vec, `"node2vec: Scalable Feature Learning for Networks"
<https://arxiv.org/abs/1607.00653>`_ (PyG's ``Node2Vec``: arguments, ``embedding.weight``,
``loader``/``sample``/``loss``/``test``): node embeddings trained so that nodes near each
other on random walks score high against random negatives,

.. math::
    \mathcal{L} = -\overline{\log \sigma(\mathbf{z}_u^\top \mathbf{z}_v)}
                  - \overline{\log\big(1 - \sigma(\mathbf{z}_u^\top \mathbf{z}_{n})\big)},

over pairs :math:`(u, v)` within ``context_size`` of each other on a walk (biased by ``p``
and ``q``, :mod:`gnnx.data.random_walk`) and negatives :math:`n` drawn uniformly. PyG's
needs ``pyg-lib`` for its walks (no wheels for current torch); these are plain torch.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gnnx.data.random_walk import random_walk
from gnnx.graph import source_csr
from gnnx.nn.skipgram import SkipGramModel, context_windows
from gnnx.utils.num_nodes import maybe_num_nodes


class Node2Vec(SkipGramModel):
    """``forward(batch=None)``: the embeddings (of ``batch``); ``loader(**kwargs)``: a
    :class:`~torch.utils.data.DataLoader` over the nodes whose batches are ``(pos_rw, neg_rw)``;
    ``loss(pos_rw, neg_rw)``. The walks run on the CPU, in the loader's workers, as PyG's."""

    def __init__(self, edge_index: Tensor, embedding_dim: int, walk_length: int, context_size: int,
                 walks_per_node: int = 1, p: float = 1.0, q: float = 1.0, num_negative_samples: int = 1,
                 num_nodes: Optional[int] = None, sparse: bool = False) -> None:
        super().__init__()
        if walk_length < context_size:
            raise ValueError(f"Node2Vec: walk_length ({walk_length}) must be at least context_size ({context_size})")
        if edge_index.dim() != 2 or edge_index.size(0) != 2:
            raise ValueError(f"Node2Vec: edge_index must have shape [2, E], got {list(edge_index.shape)}")
        self.num_nodes = maybe_num_nodes(edge_index, num_nodes)
        self.rowptr, self.col, _ = source_csr(edge_index.long().cpu(), self.num_nodes, self.num_nodes)
        self.embedding_dim, self.walk_length, self.context_size = embedding_dim, walk_length - 1, context_size
        self.walks_per_node, self.p, self.q = walks_per_node, p, q
        self.num_negative_samples = num_negative_samples
        self.embedding = torch.nn.Embedding(self.num_nodes, embedding_dim, sparse=sparse)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()

    def forward(self, batch: Optional[Tensor] = None) -> Tensor:
        weight = self.embedding.weight
        return weight if batch is None else weight[batch]

    def loader(self, **kwargs) -> DataLoader:
        return DataLoader(range(self.num_nodes), collate_fn=self.sample, **kwargs)

    def pos_sample(self, batch: Tensor) -> Tensor:
        start = batch.repeat(self.walks_per_node).to(self.rowptr.device)
        return context_windows(random_walk(self.rowptr, self.col, start, self.walk_length, self.p, self.q),
                               self.context_size)

    def neg_sample(self, batch: Tensor) -> Tensor:
        batch = batch.repeat(self.walks_per_node * self.num_negative_samples)
        walks = torch.randint(self.num_nodes, (batch.size(0), self.walk_length), dtype=batch.dtype, device=batch.device)
        return context_windows(torch.cat([batch.view(-1, 1), walks], dim=-1), self.context_size)

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.embedding.weight.size(0)}, {self.embedding.weight.size(1)})"
