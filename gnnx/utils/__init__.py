"""PyG's everyday helpers under PyG's names (``torch_geometric.utils``), with PyG's results.

Functions whose output size depends on the data (they drop, de-duplicate or sample edges)
say so and belong to data preparation; compile-clean variants sit beside them where one
exists (``negative_sampling_static``; ``to_dense_batch`` / ``to_dense_adj`` given their
sizes; the sync-free self-loop forms in :mod:`gnnx.structure`).
"""
from gnnx.utils.augmentation import add_random_edge, mask_feature, shuffle_node
from gnnx.utils.batching import from_nested_tensor, to_nested_tensor, unbatch, unbatch_edge_index
from gnnx.utils.components import connected_components
from gnnx.utils.convert import from_networkit, from_networkx, from_trimesh, to_networkit, to_networkx, to_trimesh
from gnnx.utils.dense import dense_to_sparse, to_dense_adj, to_dense_batch
from gnnx.utils.dropout import dropout_adj, dropout_edge, dropout_node, dropout_path
from gnnx.utils.edges import check_add_self_loops, coalesce, degree, is_undirected, sort_edge_index, to_undirected
from gnnx.utils.embedding import get_embeddings, get_embeddings_hetero
from gnnx.utils.functions import index_to_mask, mask_to_index, one_hot, scatter, softmax
from gnnx.utils.geodesic import geodesic_distance
from gnnx.utils.grid import grid
from gnnx.utils.homophily import homophily
from gnnx.utils.influence import total_influence
from gnnx.utils.isolated import contains_isolated_nodes, remove_isolated_nodes
from gnnx.utils.junction_tree import tree_decomposition
from gnnx.utils.laplacian import get_laplacian, get_mesh_laplacian, normalize_edge_index
from gnnx.utils.link_split import train_test_split_edges
from gnnx.utils.loop import (
    add_remaining_self_loops,
    add_self_loops,
    contains_self_loops,
    get_self_loop_attr,
    remove_self_loops,
    segregate_self_loops,
)
from gnnx.utils.measures import assortativity, normalized_cut
from gnnx.utils.negative_sampling import (
    batched_negative_sampling,
    negative_sampling,
    negative_sampling_static,
    structured_negative_sampling,
    structured_negative_sampling_feasible,
)
from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.ppr import get_ppr
from gnnx.utils.random_graphs import barabasi_albert_graph, erdos_renyi_graph, stochastic_blockmodel_graph
from gnnx.utils.smiles import from_rdmol, from_smiles, to_rdmol, to_smiles
from gnnx.utils.sparse import (
    from_scipy_sparse_matrix,
    is_sparse,
    is_torch_sparse_tensor,
    spmm,
    to_edge_index,
    to_scipy_sparse_matrix,
    to_torch_coo_tensor,
    to_torch_csc_tensor,
    to_torch_csr_tensor,
    to_torch_sparse_tensor,
)
from gnnx.utils.subgraph import bipartite_subgraph, get_num_hops, k_hop_subgraph, subgraph
from gnnx.utils.tensors import (
    cumsum,
    group_argsort,
    group_cat,
    index_sort,
    lexsort,
    mask_select,
    narrow,
    segment,
    segment_logsumexp,
    select,
)
from gnnx.utils.trim import trim_to_layer

__all__ = [
    "add_random_edge", "add_remaining_self_loops", "add_self_loops", "assortativity", "barabasi_albert_graph",
    "batched_negative_sampling", "bipartite_subgraph", "check_add_self_loops", "coalesce", "contains_isolated_nodes", "contains_self_loops",
    "cumsum", "degree", "dense_to_sparse", "dropout_adj", "dropout_edge", "dropout_node", "erdos_renyi_graph",
    "from_networkx", "from_scipy_sparse_matrix", "get_embeddings", "get_embeddings_hetero", "get_laplacian",
    "get_num_hops", "get_self_loop_attr", "grid", "group_argsort", "group_cat", "homophily", "index_sort",
    "index_to_mask", "is_sparse", "is_torch_sparse_tensor", "is_undirected", "k_hop_subgraph", "lexsort",
    "mask_feature", "mask_select", "mask_to_index", "maybe_num_nodes", "narrow", "negative_sampling",
    "negative_sampling_static", "normalized_cut", "one_hot", "remove_isolated_nodes", "remove_self_loops", "scatter",
    "segment", "segment_logsumexp", "segregate_self_loops", "select", "shuffle_node", "softmax", "sort_edge_index",
    "spmm", "stochastic_blockmodel_graph", "structured_negative_sampling", "structured_negative_sampling_feasible",
    "subgraph", "to_dense_adj", "to_dense_batch", "to_edge_index", "to_networkx", "to_scipy_sparse_matrix",
    "to_torch_coo_tensor", "to_torch_csc_tensor", "to_torch_csr_tensor", "to_torch_sparse_tensor",
    "to_undirected", "trim_to_layer", "unbatch", "unbatch_edge_index", "normalize_edge_index", "to_nested_tensor",
    "from_nested_tensor", "train_test_split_edges", "dropout_path", "connected_components", "get_mesh_laplacian", "total_influence",
    "from_rdmol", "from_smiles", "to_rdmol", "to_smiles", "tree_decomposition",
    "from_networkit", "to_networkit", "from_trimesh", "to_trimesh", "geodesic_distance", "get_ppr",
]
