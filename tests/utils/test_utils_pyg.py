"""gnnx.utils against torch_geometric.utils in the same process: equal values where the
function is deterministic, PyG's properties where it samples."""
import pytest
import torch

import gnnx.utils as U

P = pytest.importorskip("torch_geometric.utils")


def graph(n=12, e=40, seed=0, loops=True):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(n, (2, e), generator=gen)
    if loops:
        edge_index[:, :3] = torch.tensor([[1, 1, 4], [1, 1, 4]])
    return edge_index, torch.randn(e, 3, generator=gen), torch.rand(e, generator=gen) + 0.1


def same(a, b):
    if isinstance(a, (tuple, list)):
        assert isinstance(b, (tuple, list)) and len(a) == len(b)
        for x, y in zip(a, b):
            same(x, y)
    elif torch.is_tensor(a):
        assert torch.is_tensor(b), (a, b)
        assert a.shape == b.shape, (a.shape, b.shape)
        torch.testing.assert_close(a, b.to(a.dtype), rtol=1e-5, atol=1e-6)
    else:
        assert a == b or (a is None and b is None), (a, b)


EI, ATTR, WEIGHT = graph()
UNDIRECTED = torch.tensor([[0, 1, 1, 2, 3, 3], [1, 0, 2, 1, 3, 3]])

CASES = {
    "degree": lambda M: M.degree(EI[1], 12),
    "degree-dtype": lambda M: M.degree(EI[0], dtype=torch.long),
    "coalesce": lambda M: M.coalesce(EI),
    "coalesce-attr-mean": lambda M: M.coalesce(EI, ATTR, 12, reduce="mean"),
    "coalesce-list-max-by-col": lambda M: M.coalesce(EI, [ATTR, WEIGHT], reduce="max", sort_by_row=False),
    "coalesce-none": lambda M: M.coalesce(EI, None),
    "to_undirected": lambda M: M.to_undirected(EI),
    "to_undirected-attr": lambda M: M.to_undirected(EI, WEIGHT, 12, reduce="mean"),
    "is_undirected-no": lambda M: M.is_undirected(EI),
    "is_undirected-yes": lambda M: M.is_undirected(UNDIRECTED),
    "is_undirected-attr": lambda M: M.is_undirected(UNDIRECTED, torch.tensor([1., 1, 2, 2, 3, 4])),
    "contains_self_loops": lambda M: M.contains_self_loops(EI),
    "remove_self_loops": lambda M: M.remove_self_loops(EI, ATTR),
    "add_self_loops": lambda M: M.add_self_loops(EI, num_nodes=14),
    "add_self_loops-fill-float": lambda M: M.add_self_loops(EI, WEIGHT, fill_value=2.0),
    "add_self_loops-fill-mean": lambda M: M.add_self_loops(EI, ATTR, fill_value="mean", num_nodes=12),
    "add_self_loops-fill-tensor": lambda M: M.add_self_loops(EI, ATTR, fill_value=torch.tensor([1., 2, 3])),
    "add_self_loops-bipartite": lambda M: M.add_self_loops(EI, num_nodes=(12, 5)),
    "add_remaining_self_loops": lambda M: M.add_remaining_self_loops(EI, WEIGHT, fill_value=0.5, num_nodes=13),
    "add_remaining_self_loops-add": lambda M: M.add_remaining_self_loops(EI, ATTR, fill_value="add"),
    "subgraph-index": lambda M: M.subgraph(torch.tensor([5, 1, 3, 7, 9]), EI, ATTR, num_nodes=12),
    "subgraph-relabel-mask": lambda M: M.subgraph(torch.arange(12) % 2 == 0, EI, ATTR, relabel_nodes=True,
                                                  return_edge_mask=True),
    "subgraph-relabel-index": lambda M: M.subgraph([7, 2, 4, 9, 0], EI, relabel_nodes=True, num_nodes=12),
    "k_hop_subgraph": lambda M: M.k_hop_subgraph(3, 2, EI, num_nodes=12),
    "k_hop_subgraph-relabel-list": lambda M: M.k_hop_subgraph([1, 6], 1, EI, relabel_nodes=True),
    "k_hop_subgraph-t2s-directed": lambda M: M.k_hop_subgraph(torch.tensor([2]), 2, EI, flow="target_to_source",
                                                              directed=True),
    "to_dense_batch": lambda M: M.to_dense_batch(torch.randn(9, 4, generator=torch.Generator().manual_seed(1)),
                                                 torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])),
    "to_dense_batch-cut": lambda M: M.to_dense_batch(torch.arange(9.).view(9, 1),
                                                     torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2]), fill_value=-1.0,
                                                     max_num_nodes=3, batch_size=4),
    "to_dense_batch-none": lambda M: M.to_dense_batch(torch.ones(5, 2)),
    "to_dense_adj": lambda M: M.to_dense_adj(EI),
    "to_dense_adj-batch-attr": lambda M: M.to_dense_adj(torch.tensor([[0, 1, 2, 3, 4, 4], [1, 0, 2, 4, 3, 3]]),
                                                        torch.tensor([0, 0, 0, 1, 1]),
                                                        torch.tensor([1., 2, 3, 4, 5, 6])),
    "to_dense_adj-cut": lambda M: M.to_dense_adj(torch.tensor([[0, 1, 2, 3, 4, 4], [1, 2, 2, 4, 3, 3]]),
                                                 torch.tensor([0, 0, 0, 1, 1]), max_num_nodes=2, batch_size=3),
    "dense_to_sparse-2d": lambda M: M.dense_to_sparse(torch.tensor([[0., 2, 0], [1, 0, 3], [0, 0, 4]])),
    "dense_to_sparse-3d-mask": lambda M: M.dense_to_sparse(
        torch.arange(18.).view(2, 3, 3) % 4, torch.tensor([[True, True, False], [True, True, True]])),
    "dense_to_sparse-3d": lambda M: M.dense_to_sparse(torch.arange(18.).view(2, 3, 3) % 3),
    "softmax": lambda M: M.softmax(ATTR, EI[1], num_nodes=12),
    "softmax-ptr": lambda M: M.softmax(ATTR[:6], ptr=torch.tensor([0, 2, 2, 6])),
    "scatter-mean": lambda M: M.scatter(ATTR, EI[1], 0, 12, reduce="mean"),
    "scatter-max-dim1": lambda M: M.scatter(ATTR.t(), EI[1], 1, 12, reduce="max"),
    "scatter-mul": lambda M: M.scatter(WEIGHT, EI[1], dim_size=12, reduce="mul"),
    "one_hot": lambda M: M.one_hot(torch.tensor([0, 3, 1]), 5),
    "one_hot-infer-dtype": lambda M: M.one_hot(torch.tensor([2, 0]), dtype=torch.long),
    "index_to_mask": lambda M: M.index_to_mask(torch.tensor([1, 4]), size=6),
    "mask_to_index": lambda M: M.mask_to_index(torch.tensor([False, True, True, False])),
    "get_laplacian": lambda M: M.get_laplacian(EI, num_nodes=12),
    "get_laplacian-sym-weight": lambda M: M.get_laplacian(EI, WEIGHT, "sym"),
    "get_laplacian-rw": lambda M: M.get_laplacian(EI, normalization="rw", num_nodes=13),
    "homophily-edge": lambda M: M.homophily(EI, torch.arange(12) % 3),
    "homophily-node-batch": lambda M: M.homophily(EI, torch.arange(12) % 3, torch.arange(12) // 6, "node"),
    "homophily-insensitive": lambda M: M.homophily(EI, torch.arange(12) % 3, method="edge_insensitive"),
    "homophily-edge-batch": lambda M: M.homophily(EI, torch.arange(12) % 2, torch.arange(12) // 6),
}


@pytest.mark.parametrize("name", list(CASES))
def test_equals_pyg(name):
    same(CASES[name](U), CASES[name](P))


def test_sort_edge_index_by_column():
    distinct = P.coalesce(EI)  # PyG's sort is not stable: compare without duplicate edges
    attr = torch.randn(distinct.size(1), 2)
    same(U.sort_edge_index(distinct, attr, sort_by_row=False), P.sort_edge_index(distinct, attr, sort_by_row=False))


def test_dense_batch_with_sizes_compiles_without_host_sync():
    fn = torch.compile(lambda x, b: U.to_dense_batch(x, b, max_num_nodes=4, batch_size=3), fullgraph=True)
    x, batch = torch.randn(9, 2), torch.tensor([0, 0, 0, 1, 1, 2, 2, 2, 2])
    same(fn(x, batch), P.to_dense_batch(x, batch, max_num_nodes=4, batch_size=3))


@pytest.mark.parametrize("undirected", [False, True])
def test_negative_sampling_gives_distinct_non_edges(undirected):
    edge_index, _, _ = graph(30, 200, seed=3, loops=False)
    if undirected:
        edge_index = U.to_undirected(edge_index)
    neg = U.negative_sampling(edge_index, 30, 150, force_undirected=undirected,
                              generator=torch.Generator().manual_seed(0))
    edges = set(map(tuple, edge_index.t().tolist()))
    pairs = list(map(tuple, neg.t().tolist()))
    assert len(pairs) == 150 if not undirected else len(pairs) == 2 * 75
    assert not edges & set(pairs) and all(i != j for i, j in pairs)
    assert len(set(pairs)) == len(pairs)
    if undirected:
        assert U.is_undirected(neg)


def test_negative_sampling_full_graph_and_bipartite():
    full = torch.stack(torch.meshgrid(torch.arange(4), torch.arange(4), indexing="ij")).reshape(2, -1)
    assert U.negative_sampling(full, 4).numel() == 0 and P.negative_sampling(full, 4).numel() == 0
    bip = torch.tensor([[0, 1, 2], [0, 1, 1]])
    neg = U.negative_sampling(bip, (3, 2), 3)
    assert neg.size(1) == 3 and neg[0].max() < 3 and neg[1].max() < 2
    assert not set(map(tuple, neg.t().tolist())) & {(0, 0), (1, 1), (2, 1)}


def test_batched_negative_sampling_stays_within_graphs():
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5], [1, 2, 0, 4, 5, 3]])
    batch = torch.tensor([0, 0, 0, 1, 1, 1])
    neg = U.batched_negative_sampling(edge_index, batch, generator=torch.Generator().manual_seed(0))
    assert neg.size(1) == 6
    assert torch.equal(batch[neg[0]], batch[neg[1]])


def test_static_negative_sampling_compiles():
    edge_index, _, _ = graph(50, 300, seed=4, loops=False)
    fn = torch.compile(lambda e: U.negative_sampling_static(e, 50, 64), fullgraph=True, dynamic=True)
    pairs, valid = fn(edge_index)
    assert pairs.shape == (2, 64) and valid.dtype == torch.bool
    edges = set(map(tuple, edge_index.t().tolist()))
    for (i, j), ok in zip(pairs.t().tolist(), valid.tolist()):
        assert ok == ((i, j) not in edges and i != j)


def test_dropout_edge_and_node_properties():
    torch.manual_seed(0)
    kept, mask = U.dropout_edge(EI, p=0.5)
    assert torch.equal(kept, EI[:, mask])
    kept, mask = U.dropout_edge(UNDIRECTED, p=0.3, force_undirected=True)
    assert U.is_undirected(kept)
    assert torch.equal(U.dropout_edge(EI, training=False)[0], EI)
    kept, edge_mask, node_mask = U.dropout_node(EI, p=0.4, num_nodes=12)
    assert torch.equal(kept, EI[:, edge_mask]) and bool(node_mask[kept].all())
    with pytest.raises(ValueError, match="between 0 and 1"):
        U.dropout_node(EI, p=1.5)


def test_networkx_round_trip_equals_pyg():
    pytest.importorskip("networkx")
    from torch_geometric.data import Data

    import gnnx

    x = torch.randn(12, 2)
    ours = U.to_networkx(gnnx.Graph(EI, 12, x=x), node_attrs=["x"], to_undirected=True)
    theirs = P.to_networkx(Data(x=x, edge_index=EI, num_nodes=12), node_attrs=["x"], to_undirected=True)
    assert sorted(ours.edges()) == sorted(theirs.edges())
    assert ours.nodes[3]["x"] == theirs.nodes[3]["x"]
    back, pyg_back = U.from_networkx(ours), P.from_networkx(theirs)
    assert torch.equal(back.edge_index, pyg_back.edge_index)
    torch.testing.assert_close(back.x, pyg_back.x)


@pytest.mark.parametrize("call", [
    lambda ei: U.coalesce(ei, num_nodes=3),  # the sort key would mix rows silently
    lambda ei: U.to_undirected(ei, num_nodes=3),
    lambda ei: U.sort_edge_index(ei, num_nodes=3),
    lambda ei: U.add_self_loops(ei, num_nodes=3),
    lambda ei: U.degree(ei[0], 3),
    lambda ei: U.get_laplacian(ei, num_nodes=3),
])
def test_a_given_num_nodes_below_the_indices_is_named(call):
    with pytest.raises(ValueError, match=r"node index 5, outside the num_nodes=3 nodes"):
        call(torch.tensor([[0, 5], [1, 1]]))


@pytest.mark.parametrize("call, words", [
    (lambda: U.subgraph(torch.tensor([0, 7]), torch.tensor([[0, 1], [1, 2]]), num_nodes=3), "subset holds node index 7"),
    (lambda: U.k_hop_subgraph(9, 2, torch.tensor([[0, 1], [1, 2]]), num_nodes=3), "node_idx holds node index 9"),
    (lambda: U.index_to_mask(torch.tensor([0, 5]), size=3), "index holds position 5"),
    (lambda: U.one_hot(torch.tensor([0, -1]), 3), "index holds class -1"),
    (lambda: U.homophily(torch.tensor([[0, 5], [1, 1]]), torch.tensor([0, 1, 1])), "edge_index holds node index 5"),
])
def test_indices_beyond_a_given_count_are_named(call, words):
    with pytest.raises(ValueError, match=words):
        call()


@pytest.mark.parametrize("layout", [torch.sparse_coo, torch.sparse_csr, torch.sparse_csc])
def test_loop_utilities_take_sparse_matrices_as_pyg(layout):
    """remove_self_loops, add_self_loops, add_remaining_self_loops on a torch.sparse matrix (the
    last, and CSC matrices, beyond PyG's): a matrix of the same layout and size back, equal to
    PyG's (session 30)."""
    import torch_geometric.utils as pyg_utils

    import gnnx.utils as ours

    edge_index = torch.tensor([[0, 1, 1, 2, 3], [1, 0, 1, 3, 3]])
    weight = torch.tensor([0.5, 1.0, 2.0, 3.0, 4.0])
    coo = pyg_utils.to_torch_coo_tensor(edge_index, weight, size=(5, 5))
    adj = coo if layout == torch.sparse_coo else coo.to_sparse_csr() if layout == torch.sparse_csr \
        else coo.to_sparse_csc()
    for name, kwargs in (("remove_self_loops", {}), ("add_self_loops", {}), ("add_self_loops", {"fill_value": 5.0}),
                         ("add_remaining_self_loops", {"fill_value": 2.0})):
        got, none = getattr(ours, name)(adj, **kwargs)
        if name == "add_remaining_self_loops":  # PyG's takes no matrix: its result on the edge list
            edges, values = pyg_utils.add_remaining_self_loops(edge_index, weight, num_nodes=5, **kwargs)
            want = pyg_utils.to_torch_coo_tensor(edges, values, size=(5, 5))
        else:  # (PyG's take no CSC matrix: there, its COO result)
            want = getattr(pyg_utils, name)(coo if layout == torch.sparse_csc else adj, **kwargs)[0]
        assert none is None and got.layout == layout and got.shape == adj.shape, name
        torch.testing.assert_close(got.to_dense(), want.to_dense(), msg=f"{name} {kwargs}")
