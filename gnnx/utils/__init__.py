"""PyG's everyday helpers under PyG's names (``torch_geometric.utils``), with PyG's results.

Functions whose output size depends on the data (they drop, de-duplicate or sample edges)
say so and belong to data preparation; compile-clean variants sit beside them where one
exists (``negative_sampling_static``; ``to_dense_batch`` / ``to_dense_adj`` given their
sizes; the sync-free self-loop forms in :mod:`gnnx.structure`).
"""
from gnnx.utils.convert import from_networkx, to_networkx
from gnnx.utils.dense import dense_to_sparse, to_dense_adj, to_dense_batch
from gnnx.utils.dropout import dropout_edge, dropout_node
from gnnx.utils.edges import coalesce, degree, is_undirected, sort_edge_index, to_undirected
from gnnx.utils.embedding import get_embeddings, get_embeddings_hetero
from gnnx.utils.functions import index_to_mask, mask_to_index, one_hot, scatter, softmax
from gnnx.utils.homophily import homophily
from gnnx.utils.laplacian import get_laplacian
from gnnx.utils.loop import add_remaining_self_loops, add_self_loops, contains_self_loops, remove_self_loops
from gnnx.utils.negative_sampling import (
                                          batched_negative_sampling,
                                          negative_sampling,
                                          negative_sampling_static,
                                          structured_negative_sampling,
                                          structured_negative_sampling_feasible,
)
from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.subgraph import k_hop_subgraph, subgraph
from gnnx.utils.trim import trim_to_layer

__all__ = [
    "add_remaining_self_loops", "add_self_loops", "batched_negative_sampling", "coalesce", "contains_self_loops",
    "degree", "dense_to_sparse", "dropout_edge", "dropout_node", "from_networkx", "get_embeddings",
    "get_embeddings_hetero", "get_laplacian", "homophily",
    "index_to_mask", "is_undirected", "k_hop_subgraph", "mask_to_index", "maybe_num_nodes", "negative_sampling",
    "negative_sampling_static", "one_hot", "structured_negative_sampling",
    "structured_negative_sampling_feasible", "remove_self_loops", "scatter", "softmax", "sort_edge_index",
    "subgraph", "to_dense_adj", "to_dense_batch", "to_networkx", "to_undirected", "trim_to_layer",
]
