r"""MetaPath2Vec, `"metapath2vec: Scalable Representation Learning for Heterogeneous Networks"
<https://ericdongyx.github.io/papers/KDD17-dong-chawla-swami-metapath2vec.pdf>`_ (PyG's
``MetaPath2Vec``: arguments, ``embedding.weight``, ``loader``, ``loss``, ``test``, repr):
embeddings of a heterogeneous graph's nodes trained with the skip-gram loss
(:mod:`gnnx.nn.skipgram`) on random walks that follow a *metapath*, a cycle of edge types such
as ``author -writes-> paper -published_in-> venue -publishes-> paper -written_by-> author``.

All node types of the metapath share one embedding table, type after type in sorted order,
plus one row for a dummy node: a walk that reaches a node without an edge of the next type
stays on the dummy. Each step picks a uniform neighbour of the edge type; negative walks pick
uniform nodes of each step's type. With the same random seed the walks are PyG's.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Tuple

import torch
from torch import Tensor
from torch.utils.data import DataLoader

from gnnx.graph import source_csr
from gnnx.nn.skipgram import SkipGramModel, context_windows

EdgeType = Tuple[str, str, str]


def _num_nodes(edge_index_dict: Dict[EdgeType, Tensor]) -> Dict[str, int]:
    """Per node type, one more than the largest index seen (as PyG infers them)."""
    counts: Dict[str, int] = {}
    for (src, _, dst), edge_index in edge_index_dict.items():
        for node_type, index in ((src, edge_index[0]), (dst, edge_index[1])):
            if index.numel():
                counts[node_type] = max(int(index.max()) + 1, counts.get(node_type, 0))
    return counts


class MetaPath2Vec(SkipGramModel):
    """``forward(node_type, batch=None)``: that type's embeddings (of ``batch``);
    ``loader(**kwargs)``: a :class:`~torch.utils.data.DataLoader` over the metapath's first
    node type whose batches are ``(pos_rw, neg_rw)``; ``loss(pos_rw, neg_rw)``.

    Args:
        edge_index_dict: ``[2, E]`` edges per edge type.
        embedding_dim: embedding size.
        metapath: the edge types a walk follows, in order (each ending where the next starts).
        walk_length: steps per walk; past the metapath's length it must be a cycle.
        context_size: nodes per skip-gram window (at most ``walk_length + 1``).
        walks_per_node, num_negative_samples: walks from each start node, negatives per walk.
        num_nodes_dict: nodes per type (default: inferred from the edges, a host read).
        sparse: sparse embedding gradients.
    """

    def __init__(self, edge_index_dict: Dict[EdgeType, Tensor], embedding_dim: int, metapath: List[EdgeType],
                 walk_length: int, context_size: int, walks_per_node: int = 1, num_negative_samples: int = 1,
                 num_nodes_dict: Optional[Dict[str, int]] = None, sparse: bool = False) -> None:
        super().__init__()
        for first, second in zip(metapath[:-1], metapath[1:]):
            if first[-1] != second[0]:
                raise ValueError(f"MetaPath2Vec: invalid metapath: {first} ends at {first[-1]!r} but {second} "
                                 f"starts at {second[0]!r}")
        if walk_length + 1 < context_size:
            raise ValueError(f"MetaPath2Vec: context_size ({context_size}) must be at most walk_length + 1 "
                             f"({walk_length + 1})")
        if walk_length > len(metapath) and metapath[0][0] != metapath[-1][-1]:
            raise ValueError("MetaPath2Vec: walk_length is longer than the metapath, which is not a cycle")
        missing = [edge_type for edge_type in metapath if edge_type not in edge_index_dict]
        if missing:
            raise ValueError(f"MetaPath2Vec: no edges given for the metapath's {missing}")
        self.num_nodes_dict = dict(num_nodes_dict) if num_nodes_dict is not None else _num_nodes(edge_index_dict)
        # per edge type, its edges by source (neighbours sorted): CSR row offsets and columns
        self.rowptr_dict, self.col_dict, self.rowcount_dict = {}, {}, {}
        for edge_type, edge_index in edge_index_dict.items():
            rowptr, col, _ = source_csr(edge_index.long().cpu(), self.num_nodes_dict[edge_type[0]],
                                        self.num_nodes_dict[edge_type[-1]])
            self.rowptr_dict[edge_type], self.col_dict[edge_type] = rowptr, col
            self.rowcount_dict[edge_type] = rowptr[1:] - rowptr[:-1]
        self.embedding_dim, self.metapath, self.walk_length = embedding_dim, metapath, walk_length
        self.context_size, self.walks_per_node = context_size, walks_per_node
        self.num_negative_samples = num_negative_samples
        self.start, self.end = {}, {}
        count = 0
        for node_type in sorted({e[0] for e in metapath} | {e[-1] for e in metapath}):
            self.start[node_type] = count
            count += self.num_nodes_dict[node_type]
            self.end[node_type] = count
        # the table offset of each walk position's node type
        types = [metapath[0][0]] + [metapath[i % len(metapath)][-1] for i in range(walk_length)]
        self.offset = torch.tensor([self.start[t] for t in types])
        self.embedding = torch.nn.Embedding(count + 1, embedding_dim, sparse=sparse)
        self.dummy_idx = count
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.embedding.reset_parameters()

    def forward(self, node_type: str, batch: Optional[Tensor] = None) -> Tensor:
        embeddings = self.embedding.weight[self.start[node_type]:self.end[node_type]]
        return embeddings if batch is None else embeddings.index_select(0, batch)

    def loader(self, **kwargs) -> DataLoader:
        return DataLoader(range(self.num_nodes_dict[self.metapath[0][0]]), collate_fn=self.sample, **kwargs)

    def _step(self, edge_type: EdgeType, nodes: Tensor) -> Tensor:
        """A uniform neighbour of each node over ``edge_type`` (the dummy for the dummy and for
        nodes without such an edge)."""
        rowptr, col, rowcount = self.rowptr_dict[edge_type], self.col_dict[edge_type], self.rowcount_dict[edge_type]
        on_dummy = nodes >= self.dummy_idx
        nodes = nodes.clamp(min=0, max=rowptr.numel() - 2)
        count = rowcount[nodes]
        pick = (torch.rand((nodes.size(0), 1), device=nodes.device) * count.to(torch.float).view(-1, 1)).long()
        pick = (pick + rowptr[nodes].view(-1, 1)).clamp(max=col.numel() - 1).view(-1)
        found = col[pick] if col.numel() > 0 else pick
        return torch.where(on_dummy | (count == 0), torch.full_like(found, self.dummy_idx), found)

    def pos_sample(self, batch: Tensor) -> Tensor:
        """Windows of walks along the metapath from each node of ``batch`` (table indices)."""
        nodes = batch.repeat(self.walks_per_node)
        steps = [nodes]
        for i in range(self.walk_length):
            nodes = self._step(self.metapath[i % len(self.metapath)], nodes)
            steps.append(nodes)
        walks = (torch.stack(steps, dim=-1) + self.offset.view(1, -1)).clamp(max=self.dummy_idx)
        return context_windows(walks, self.context_size)

    def neg_sample(self, batch: Tensor) -> Tensor:
        """Windows of walks of uniform nodes of each step's type (table indices)."""
        nodes = batch.repeat(self.walks_per_node * self.num_negative_samples)
        steps = [nodes]
        for i in range(self.walk_length):
            node_type = self.metapath[i % len(self.metapath)][-1]
            steps.append(torch.randint(0, self.num_nodes_dict[node_type], (nodes.size(0),), dtype=torch.long))
        return context_windows(torch.stack(steps, dim=-1) + self.offset.view(1, -1), self.context_size)

    _pos_sample, _neg_sample, _sample = pos_sample, neg_sample, SkipGramModel.sample  # PyG's names

    def __repr__(self) -> str:  # PyG's
        return f"{type(self).__name__}({self.embedding.weight.size(0) - 1}, {self.embedding.weight.size(1)})"
