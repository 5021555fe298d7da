"""Graph construction, CSR, validation messages, and the transforms."""
import pytest
import torch

import gnnx
from gnnx import transforms as T


def test_csr_is_destination_sorted_with_permutation_and_transpose():
    edge_index = torch.tensor([[2, 0, 1, 3, 0], [1, 1, 0, 3, 3]])
    g = gnnx.Graph(edge_index, 4)
    csr = g.csr
    assert csr.rowptr.tolist() == [0, 1, 3, 3, 5]
    assert torch.equal(edge_index[1, csr.perm], torch.tensor([0, 1, 1, 3, 3]))
    assert torch.equal(edge_index[0, csr.perm], csr.col)
    assert torch.equal(edge_index[0, csr.perm_t].sort().values, edge_index[0, csr.perm_t])
    assert torch.equal(edge_index[1, csr.perm_t], csr.col_t)
    assert g.in_degree.tolist() == [1, 2, 0, 2]
    assert g.out_degree.tolist() == [2, 1, 1, 1]


def test_num_nodes_is_inferred():
    assert gnnx.Graph(torch.tensor([[0, 4], [1, 2]])).num_nodes == 5
    assert gnnx.Graph(torch.tensor([[0], [1]]), x=torch.zeros(7, 2)).num_nodes == 7


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(edge_index=[[0, 1], [1, 0]]), TypeError, "edge_index must be a torch.Tensor"),
        (dict(edge_index=torch.tensor([[0.0, 1.0], [1.0, 0.0]])), TypeError, "dtype torch.int64"),
        (dict(edge_index=torch.tensor([[0, 1], [1, 0]], dtype=torch.int32)), TypeError, "torch.int32"),
        (dict(edge_index=torch.zeros(3, 4, dtype=torch.long)), ValueError, r"shape \[2, num_edges\], got \[3, 4\]"),
        (dict(edge_index=torch.tensor([[0, 1, 5], [1, 0, 0]]), num_nodes=3), ValueError, "node index 5 .edge 2."),
        (dict(edge_index=torch.tensor([[0, -1], [1, 0]]), num_nodes=3), ValueError, "negative node index -1"),
        (dict(edge_index=torch.zeros(2, 0, dtype=torch.long), num_nodes=0), ValueError, "at least one node"),
        (dict(edge_index=torch.zeros(2, 0, dtype=torch.long)), ValueError, "cannot be inferred"),
        (dict(edge_index=torch.tensor([[0], [1]]), num_nodes=2, x=torch.zeros(3, 2)), ValueError, "x must have"),
        (dict(edge_index=torch.tensor([[0], [1]]), num_nodes=2, x=torch.tensor([[1.0], [float("nan")]])),
         ValueError, "x contains NaN"),
        (dict(edge_index=torch.tensor([[0], [1]]), num_nodes=2, edge_weight=torch.ones(2)), ValueError,
         "edge_weight must have num_edges=1"),
        (dict(edge_index=torch.tensor([[0], [1]]), num_nodes=2, edge_weight=torch.ones(1, dtype=torch.long)),
         TypeError, "edge_weight must be a floating-point"),
        (dict(edge_index=torch.tensor([[0], [1]]), num_nodes=2, edge_attr=torch.ones(1, 2, dtype=torch.bool)),
         TypeError, "edge_attr must be a floating-point tensor or integer category codes"),
    ],
)
def test_invalid_graphs_raise_named_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        gnnx.Graph(**kwargs)


def test_validate_false_skips_checks():
    g = gnnx.Graph(torch.tensor([[0], [1]]), 2, x=torch.tensor([[float("nan")], [0.0]]), validate=False)
    assert g.num_edges == 1


def test_extra_attributes_and_to():
    g = gnnx.Graph(torch.tensor([[0], [1]]), 2, train_mask=torch.tensor([True, False]))
    assert g.train_mask.tolist() == [True, False]
    h = g.to("cpu")
    assert h.train_mask is not g.train_mask or h.train_mask.device.type == "cpu"
    assert "num_nodes=2" in repr(g)


def _graph():
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 3], [1, 0, 0, 2, 1, 3]])
    return gnnx.Graph(edge_index, 5, x=torch.rand(5, 3), edge_weight=torch.arange(1.0, 7.0))


def test_sort_by_destination_keeps_edges_with_their_weights():
    g = T.SortByDestination()(_graph())
    assert torch.equal(g.csr.perm, torch.arange(6))
    pairs = {(s, d): w for (s, d), w in zip(g.edge_index.t().tolist(), g.edge_weight.tolist())}
    assert pairs[(2, 1)] == 5.0 and pairs[(3, 3)] == 6.0


def test_remove_duplicates_and_undirected_merge_weights():
    g = T.RemoveDuplicateEdges()(_graph())
    pairs = dict(zip(map(tuple, g.edge_index.t().tolist()), g.edge_weight.tolist()))
    assert pairs == {(1, 0): 5.0, (0, 1): 1.0, (2, 1): 5.0, (2, 2): 4.0, (3, 3): 6.0}
    u = T.ToUndirected()(_graph())
    pairs = dict(zip(map(tuple, u.edge_index.t().tolist()), u.edge_weight.tolist()))
    assert pairs[(1, 2)] == pairs[(2, 1)] == 5.0 and pairs[(0, 1)] == pairs[(1, 0)] == 6.0
    assert pairs[(2, 2)] == 8.0


def test_add_self_loops_and_gcn_norm_match_pyg():
    pyg_utils = pytest.importorskip("torch_geometric.nn.conv.gcn_conv")
    g = _graph()
    looped = T.AddSelfLoops()(g)
    assert looped.num_edges == g.num_edges + g.num_nodes
    normed = T.GCNNorm()(g)
    ei, ew = pyg_utils.gcn_norm(g.edge_index, g.edge_weight, g.num_nodes)
    ours = dict(zip(map(tuple, normed.edge_index.t().tolist()), normed.edge_weight.tolist()))
    theirs = dict(zip(map(tuple, ei.t().tolist()), ew.tolist()))
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert abs(ours[key] - theirs[key]) < 1e-6


def test_normalize_features_rows_sum_to_one():
    g = T.NormalizeFeatures()(gnnx.Graph(torch.tensor([[0], [1]]), 2, x=torch.tensor([[1.0, 3.0], [0.0, 0.0]])))
    assert g.x.tolist() == [[0.25, 0.75], [0.0, 0.0]]


def test_compose():
    g = T.Compose([T.ToUndirected(), T.GCNNorm()])(_graph())
    assert g.edge_weight is not None and g.num_edges > 0


def test_saved_graphs_load_with_torch_load_defaults(tmp_path):
    """``torch.load``'s default ``weights_only=True`` loads saved graphs, batches and
    heterogeneous graphs (allowlisted classes, no arbitrary unpickling), CSR included."""
    from gnnx.data import NeighborLoader, collate
    from gnnx.datasets import hetero_benchmark_graph

    torch.manual_seed(0)
    graph = gnnx.Graph(torch.randint(12, (2, 40)), 12, x=torch.randn(12, 4), y=torch.tensor(1))
    hetero = hetero_benchmark_graph(scale=0.001, num_features=4)
    hetero_batch = next(iter(NeighborLoader(hetero, num_neighbors=[3], input_nodes=("paper", torch.arange(8)),
                                            batch_size=4)))
    for value in (graph, collate([graph, graph]), hetero, hetero_batch):
        path = tmp_path / "graph.pt"
        torch.save(value, path)
        loaded = torch.load(path)
        assert type(loaded) is type(value)
        if isinstance(value, gnnx.Graph):
            assert torch.equal(loaded.edge_index, value.edge_index) and torch.equal(loaded.x, value.x)
            assert all(torch.equal(a, b) for a, b in zip(loaded.csr, value.csr))
            model = gnnx.nn.GCN(4, 8, 2, 3)
            torch.testing.assert_close(model(loaded.x, loaded), model(value.x, value))
        else:
            assert set(loaded.x_dict) == set(value.x_dict) and set(loaded.edge_index_dict) == set(value.edge_index_dict)
            assert all(torch.equal(loaded.edge_index_dict[k], v) for k, v in value.edge_index_dict.items())
    path = tmp_path / "other.pt"
    import argparse

    torch.save({"graph": graph, "note": argparse.Namespace(a=1)}, path)
    with pytest.raises(Exception, match="Unsupported global|Weights only load failed"):
        torch.load(path)  # anything not allowlisted still refuses to load
