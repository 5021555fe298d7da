"""LaplacianLambdaMax equal to PyG's (scipy and the dense fallback); ComposeFilters as PyG's."""
import pytest
import torch

import gnnx
from gnnx.transforms import ComposeFilters, LaplacianLambdaMax, spectral
from gnnx.transforms.transform import BaseTransform

pyg_transforms = pytest.importorskip("torch_geometric.transforms")


def _graph(undirected, weighted, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, 25, (2, 80), generator=gen)
    if undirected:
        edge_index = torch.unique(torch.cat([edge_index, edge_index.flip(0)], 1), dim=1)
    weight = torch.rand(edge_index.size(1), generator=gen) + 0.1
    if undirected:  # a symmetric weight per pair
        key = torch.minimum(edge_index[0], edge_index[1]) * 25 + torch.maximum(edge_index[0], edge_index[1])
        weight = (key % 7 + 1).float() / 7
    return gnnx.Graph(edge_index, 25, edge_attr=weight if weighted else None)


@pytest.mark.parametrize("normalization", [None, "sym", "rw"])
@pytest.mark.parametrize("undirected", [False, True])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("dense", [False, True])
def test_lambda_max_equals_pyg(normalization, undirected, weighted, dense, monkeypatch):
    pytest.importorskip("scipy")
    graph = _graph(undirected, weighted)
    expected = pyg_transforms.LaplacianLambdaMax(normalization, is_undirected=undirected)(graph.to_pyg()).lambda_max
    if dense:  # without scipy: the dense solve
        monkeypatch.setitem(__import__("sys").modules, "scipy", None)
    got = LaplacianLambdaMax(normalization, is_undirected=undirected)(graph).lambda_max
    assert got == pytest.approx(expected, rel=1e-5)
    assert repr(LaplacianLambdaMax("sym")) == repr(pyg_transforms.LaplacianLambdaMax("sym"))


def test_lambda_max_limits_and_bad_arguments(monkeypatch):
    with pytest.raises(ValueError, match="normalization must be None, 'sym' or 'rw'"):
        LaplacianLambdaMax("row")
    monkeypatch.setitem(__import__("sys").modules, "scipy", None)
    monkeypatch.setattr(spectral, "DENSE_LIMIT", 10)
    with pytest.raises(ValueError, match="25 nodes need scipy"):
        LaplacianLambdaMax()(_graph(True, False))


def test_compose_filters_as_pyg():
    small = lambda g: g.num_nodes < 30  # noqa: E731
    has_edges = lambda g: g.num_edges > 0  # noqa: E731
    graphs = [_graph(True, False), gnnx.Graph(torch.zeros(2, 0, dtype=torch.long), 3)]
    ours, theirs = ComposeFilters([small, has_edges]), pyg_transforms.ComposeFilters([small, has_edges])
    assert [ours(g) for g in graphs] == [theirs(g) for g in graphs] == [True, False]
    assert ours(graphs) is theirs(graphs) is False and ours(graphs[:1]) is True
    assert repr(ours).startswith("ComposeFilters([\n  <function")
    assert not isinstance(ours, BaseTransform)


@pytest.mark.parametrize("count", [1, 2, 3, 12])
def test_delaunay_equals_pyg(count):
    pytest.importorskip("scipy")
    from gnnx.transforms import Delaunay, FaceToEdge

    pos = torch.randn(count, 2, generator=torch.Generator().manual_seed(count))
    graph = gnnx.Graph(torch.zeros(2, 0, dtype=torch.long), count, pos=pos)
    ours, theirs = Delaunay()(graph), pyg_transforms.Delaunay()(graph.to_pyg())
    if count >= 3:
        assert torch.equal(ours.face, theirs.face)
        edges = FaceToEdge()(ours)
        assert torch.equal(edges.edge_index, pyg_transforms.FaceToEdge()(theirs).edge_index)
    else:
        assert torch.equal(ours.edge_index, theirs.edge_index)


@pytest.mark.parametrize("name", ["popularity", "locality", "density"])
def test_node_property_split_equals_pyg(name):
    pytest.importorskip("networkx")
    pytest.importorskip("scipy")
    from gnnx.transforms import NodePropertySplit

    graph = _graph(True, False, seed=3)
    ratios = [0.3, 0.1, 0.1, 0.3, 0.2]
    torch.manual_seed(5)
    ours = NodePropertySplit(name, ratios)(graph)
    torch.manual_seed(5)
    theirs = pyg_transforms.NodePropertySplit(name, ratios)(graph.to_pyg())
    for mask in ("id_train_mask", "id_val_mask", "id_test_mask", "ood_val_mask", "ood_test_mask"):
        assert torch.equal(getattr(ours, mask), getattr(theirs, mask)), mask
    assert repr(NodePropertySplit(name, ratios)) == repr(pyg_transforms.NodePropertySplit(name, ratios))
    with pytest.raises(ValueError, match="must sum to 1.0"):
        NodePropertySplit(name, [0.5, 0.1, 0.1, 0.1, 0.1])
