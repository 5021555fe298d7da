"""normalize_edge_index, nested tensors and train_test_split_edges against PyG's."""
import pytest
import torch

import gnnx
from gnnx.utils import from_nested_tensor, normalize_edge_index, to_nested_tensor, to_undirected, train_test_split_edges

pyg_utils = pytest.importorskip("torch_geometric.utils")


@pytest.mark.parametrize("loops", [False, True])
@pytest.mark.parametrize("symmetric", [False, True])
def test_normalize_edge_index_equals_pyg(loops, symmetric):
    edge_index = torch.tensor([[0, 0, 1, 2, 3, 3], [1, 2, 2, 0, 0, 1]])
    got = normalize_edge_index(edge_index, 5, add_self_loops=loops, symmetric=symmetric)
    expected = pyg_utils.normalize_edge_index(edge_index, 5, add_self_loops=loops, symmetric=symmetric)
    assert torch.equal(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])


def test_nested_tensors_equal_pygs_and_round_trip():
    x = torch.randn(7, 3)
    batch = torch.tensor([0, 0, 1, 1, 1, 3, 3])
    for kwargs in ({"batch": batch, "batch_size": 4}, {"ptr": torch.tensor([0, 2, 5, 5, 7])}, {}):
        ours, theirs = to_nested_tensor(x, **kwargs), pyg_utils.to_nested_tensor(x, **kwargs)
        assert [t.shape for t in ours.unbind()] == [t.shape for t in theirs.unbind()]
        back, got_batch = from_nested_tensor(ours, return_batch=True)
        expected, expected_batch = pyg_utils.from_nested_tensor(theirs, return_batch=True)
        assert torch.equal(back, expected) and torch.equal(got_batch, expected_batch) and torch.equal(back, x)
    with pytest.raises(ValueError, match="is not nested"):
        from_nested_tensor(x)
    ragged = torch.nested.as_nested_tensor([torch.randn(2, 3), torch.randn(2, 4)])
    with pytest.raises(ValueError, match="same size in dimension 1"):
        from_nested_tensor(ragged)


@pytest.mark.parametrize("with_attr", [False, True])
def test_train_test_split_edges_equals_pyg(with_attr):
    gen = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 30, (2, 90), generator=gen))
    edge_attr = torch.randn(edge_index.size(1), 2, generator=gen) if with_attr else None
    graph = gnnx.Graph(edge_index, 30, x=torch.randn(30, 4, generator=gen), edge_attr=edge_attr)
    torch.manual_seed(3)
    with pytest.warns(UserWarning, match="deprecated"):
        ours = train_test_split_edges(graph, val_ratio=0.1, test_ratio=0.2)
    torch.manual_seed(3)
    with pytest.warns(UserWarning):
        theirs = pyg_utils.train_test_split_edges(graph.to_pyg(), val_ratio=0.1, test_ratio=0.2)
    names = ["val_pos_edge_index", "test_pos_edge_index", "train_pos_edge_index", "train_neg_adj_mask",
             "val_neg_edge_index", "test_neg_edge_index"]
    names += ["val_pos_edge_attr", "test_pos_edge_attr", "train_pos_edge_attr"] if with_attr else []
    for name in names:
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.num_edges == 0 and ours.edge_attr is None and torch.equal(ours.x, graph.x)


def test_dropout_path_drops_the_edges_walks_take():
    from gnnx.utils import dropout_path

    edge_index = to_undirected(torch.randint(0, 20, (2, 60), generator=torch.Generator().manual_seed(4)))
    kept, mask = dropout_path(edge_index, p=0.3, walk_length=3, generator=torch.Generator().manual_seed(0))
    assert mask.shape == (edge_index.size(1),) and torch.equal(kept, edge_index[:, mask])
    assert 0 < int((~mask).sum()) < edge_index.size(1)
    # on a directed cycle every walk is fixed: a picked edge's source s drops s->s+1->s+2->s+3
    n = 12
    cycle = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])
    picked = torch.rand(n, generator=torch.Generator().manual_seed(7)) <= 0.25
    _, mask = dropout_path(cycle, p=0.25, walk_length=3, generator=torch.Generator().manual_seed(7))
    expected = torch.ones(n, dtype=torch.bool)
    for s in picked.nonzero().view(-1).tolist():
        expected[[(s + k) % n for k in range(3)]] = False
    assert torch.equal(mask, expected)
    assert torch.equal(dropout_path(edge_index, p=0.0)[0], edge_index)
    assert torch.equal(dropout_path(edge_index, training=False)[1], torch.ones(edge_index.size(1), dtype=torch.bool))
    with pytest.raises(ValueError, match="between 0 and 1"):
        dropout_path(edge_index, p=1.5)


@pytest.mark.parametrize("normalization", [None, "sym", "rw"])
def test_mesh_laplacian_equals_pyg(normalization):
    from gnnx.utils import get_mesh_laplacian

    gen = torch.Generator().manual_seed(0)
    pos = torch.randn(6, 3, generator=gen)
    face = torch.tensor([[0, 1, 2, 0, 3], [1, 2, 3, 3, 4], [2, 3, 4, 5, 5]])
    got = get_mesh_laplacian(pos, face, normalization)
    expected = pyg_utils.get_mesh_laplacian(pos, face, normalization)
    assert torch.equal(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])
    with pytest.raises(ValueError, match="pos must be"):
        get_mesh_laplacian(pos[:, :2], face)


def test_total_influence_equals_pygs():
    import torch_geometric.utils.influence as pyg_influence

    import gnnx.nn as gnn
    from gnnx.utils import total_influence

    gen = torch.Generator().manual_seed(0)
    edge_index = to_undirected(torch.randint(0, 15, (2, 30), generator=gen))
    graph = gnnx.Graph(edge_index, 15, x=torch.randn(15, 4, generator=gen))
    torch.manual_seed(0)
    model = gnn.GCN(4, 8, num_layers=2, out_channels=3).eval()
    torch.manual_seed(1)
    ours = total_influence(model, graph, max_hops=2, num_samples=6)
    torch.manual_seed(1)
    theirs = pyg_influence.total_influence(model, graph.to_pyg(), max_hops=2, num_samples=6)
    torch.testing.assert_close(ours[0], theirs[0])
    assert ours[1] == pytest.approx(theirs[1])
    assert ours[0].shape == (3,) and float(ours[0][0]) == 1.0
