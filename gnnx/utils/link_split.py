"""PyG's ``train_test_split_edges`` (deprecated there in favour of ``RandomLinkSplit``, which
gnnx has too), for code written against it: the same splits for the same seed."""
from __future__ import annotations

import math
import warnings

import torch

from gnnx.graph import Graph
from gnnx.utils.edges import to_undirected


def train_test_split_edges(data: Graph, val_ratio: float = 0.05, test_ratio: float = 0.1) -> Graph:
    """An undirected graph's edges split into train/validation/test positives (each edge once,
    ``row < col``; the training ones made undirected again) and validation/test negatives,
    plus ``train_neg_adj_mask`` (``[N, N]``: pairs left for negative training samples). The
    graph's ``edge_index``/``edge_attr`` are dropped, as PyG drops them. Draws as PyG's."""
    warnings.warn("'train_test_split_edges' is deprecated (as in PyG), use 'transforms.RandomLinkSplit' instead",
                  stacklevel=2)
    if "batch" in data.attrs or data.batch is not None:
        raise ValueError("train_test_split_edges takes a single graph, not a batch")
    num_nodes = data.num_nodes
    row, col = data.edge_index
    edge_attr = data.edge_attr
    upper = row < col
    row, col = row[upper], col[upper]
    if edge_attr is not None:
        edge_attr = edge_attr[upper]
    n_v, n_t = int(math.floor(val_ratio * row.size(0))), int(math.floor(test_ratio * row.size(0)))
    perm = torch.randperm(row.size(0))
    row, col = row[perm], col[perm]
    if edge_attr is not None:
        edge_attr = edge_attr[perm]
    fields = {"val_pos_edge_index": torch.stack([row[:n_v], col[:n_v]]),
              "test_pos_edge_index": torch.stack([row[n_v:n_v + n_t], col[n_v:n_v + n_t]])}
    train = torch.stack([row[n_v + n_t:], col[n_v + n_t:]])
    if edge_attr is not None:
        fields["val_pos_edge_attr"], fields["test_pos_edge_attr"] = edge_attr[:n_v], edge_attr[n_v:n_v + n_t]
        fields["train_pos_edge_index"], fields["train_pos_edge_attr"] = to_undirected(train, edge_attr[n_v + n_t:])
    else:
        fields["train_pos_edge_index"] = to_undirected(train)
    negative = torch.ones(num_nodes, num_nodes, dtype=torch.uint8).triu(diagonal=1).to(torch.bool)
    negative[row, col] = False
    neg_row, neg_col = negative.nonzero().t()
    pick = torch.randperm(neg_row.size(0))[:n_v + n_t]
    neg_row, neg_col = neg_row[pick], neg_col[pick]
    negative[neg_row, neg_col] = False
    fields["train_neg_adj_mask"] = negative
    fields["val_neg_edge_index"] = torch.stack([neg_row[:n_v], neg_col[:n_v]])
    fields["test_neg_edge_index"] = torch.stack([neg_row[n_v:n_v + n_t], neg_col[n_v:n_v + n_t]])
    # no edges left on the graph itself (PyG deletes edge_index and edge_attr; a Graph keeps an
    # empty edge_index, and drops edge_weight with them); its nodes and other fields stay
    return data.replace(edge_index=torch.zeros(2, 0, dtype=torch.long), edge_attr=None, edge_weight=None, **fields)
