"""HeteroGraph: PyG's HeteroData keys and accessors, validation naming type and field,
conversion both ways, and the per-type transforms equal to PyG's."""
import pytest
import torch

import gnnx
from gnnx import transforms as T

pyg_data = pytest.importorskip("torch_geometric.data")
PT = pytest.importorskip("torch_geometric.transforms")


def _graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    graph = gnnx.HeteroGraph()
    graph["paper"].x = torch.randn(30, 8, generator=g)
    graph["author"].x = torch.randn(12, 4, generator=g)
    graph["institution"].num_nodes = 5
    graph["author", "writes", "paper"].edge_index = torch.stack([torch.randint(0, 12, (50,), generator=g),
                                                                torch.randint(0, 30, (50,), generator=g)])
    graph["author", "writes", "paper"].edge_attr = torch.randn(50, 3, generator=g)
    graph["paper", "cites", "paper"].edge_index = torch.randint(0, 30, (2, 60), generator=g)
    graph["paper", "cites", "paper"].edge_weight = torch.rand(60, generator=g)
    graph["author", "affiliated", "institution"].edge_index = torch.stack(
        [torch.arange(12), torch.randint(0, 5, (12,), generator=g)])
    return graph.validate()


def _edge_set(edge_index, *fields):
    rows = [edge_index[0].tolist(), edge_index[1].tolist()] + [f.reshape(f.size(0), -1).tolist() for f in fields]
    return sorted(zip(*rows))


def test_keys_accessors_and_metadata():
    graph = _graph()
    assert graph.metadata() == (["paper", "author", "institution"],
                                [("author", "writes", "paper"), ("paper", "cites", "paper"),
                                 ("author", "affiliated", "institution")])
    assert graph["writes"] is graph["author", "writes", "paper"] is graph["author", "paper"]
    assert graph.num_nodes_dict == {"paper": 30, "author": 12, "institution": 5}
    assert set(graph.x_dict) == {"paper", "author"} and len(graph.edge_index_dict) == 3
    assert graph["paper"].y is None  # absent attributes read as None, as PyG's stores
    csr = graph.csr("cites")
    assert csr.rowptr.numel() == 31
    graph["author", "reviews", "paper"].edge_index = torch.tensor([[0], [1]])
    with pytest.raises(KeyError, match="more than one"):
        graph["author", "paper"]  # noqa: B018  (two relations from author to paper)


def test_round_trip_through_pyg():
    graph = _graph(1)
    data = graph.to_pyg()
    assert isinstance(data, pyg_data.HeteroData) and data.metadata() == graph.metadata()
    back = gnnx.HeteroGraph.from_pyg(data)
    for key, value in graph.x_dict.items():
        assert back[key].x is value
    assert back["institution"].num_nodes == 5
    assert torch.equal(back["cites"].edge_weight, graph["cites"].edge_weight)


@pytest.mark.parametrize("field,change,message", [
    ("edge_index", lambda g: g["writes"].edge_index.__setitem__((1, 3), 30), r"edge_index\[1\] holds 30 \(edge 3\)"),
    ("edge_index", lambda g: g["writes"].edge_index.__setitem__((0, 0), -1), r"edge_index\[0\] holds -1"),
    ("edge_attr", lambda g: setattr(g["writes"], "edge_attr", torch.randn(49, 3)), "edge_attr must have num_edges=50"),
    ("x", lambda g: (setattr(g["paper"], "num_nodes", 30), setattr(g["paper"], "x", torch.randn(29, 8))),
     "'paper'.x must have num_nodes=30 rows"),
    ("nan", lambda g: g["author"].x.__setitem__((2, 1), float("nan")), "NaN"),
])
def test_validation_names_type_and_field(field, change, message):
    graph = _graph(2)
    change(graph)
    with pytest.raises(ValueError, match=message):
        graph.validate()


def test_to_undirected_equals_pyg():
    graph = _graph(3)
    ours = T.ToUndirected()(graph)
    theirs = PT.ToUndirected()(graph.to_pyg())
    assert ours.metadata()[1] and set(ours.edge_types) == set(theirs.edge_types)
    for edge_type in theirs.edge_types:
        fields = [k for k in theirs[edge_type].keys() if k != "edge_index"]
        assert _edge_set(ours[edge_type].edge_index, *[ours[edge_type][k] for k in fields]) == \
            _edge_set(theirs[edge_type].edge_index, *[theirs[edge_type][k] for k in fields]), edge_type
    assert ("paper", "rev_writes", "author") in ours.edge_types
    assert graph.edge_types == _graph(3).edge_types  # the input is left as it was
    unmerged = T.ToUndirected(merge=False)(graph)
    assert ("paper", "rev_cites", "paper") in unmerged.edge_types


def test_add_self_loops_and_normalize_features_equal_pyg():
    graph = _graph(4)
    ours, theirs = T.AddSelfLoops()(graph), PT.AddSelfLoops(attr="edge_weight")(graph.to_pyg())
    for edge_type in theirs.edge_types:
        assert _edge_set(ours[edge_type].edge_index) == _edge_set(theirs[edge_type].edge_index), edge_type
    ours, theirs = T.NormalizeFeatures()(graph), PT.NormalizeFeatures()(graph.to_pyg())
    for node_type in ("paper", "author"):
        torch.testing.assert_close(ours[node_type].x, theirs[node_type].x)


def test_to_device_and_constructor_from_dicts():
    graph = _graph(5)
    moved = graph.to("cpu")
    assert moved.metadata() == graph.metadata() and moved["writes"].edge_index.device.type == "cpu"
    built = gnnx.HeteroGraph(x_dict=graph.x_dict, edge_index_dict=graph.edge_index_dict,
                             num_nodes_dict={"institution": 5})
    assert built.num_edges == graph.num_edges
    with pytest.raises(ValueError, match="outside the 5 'institution' nodes"):
        gnnx.HeteroGraph(x_dict=graph.x_dict, num_nodes_dict={"institution": 5},
                         edge_index_dict={("author", "affiliated", "institution"): torch.tensor([[0], [7]])})


def test_csr_is_built_once_and_follows_edits():
    graph = _graph(6)
    first = graph.csr("cites")
    assert graph["cites"].edge_index is not None and graph.csr("cites") is first  # reading keeps it
    graph["cites"].edge_index = graph["cites"].edge_index[:, :10].clone()
    assert graph.csr("cites").rowptr[-1] == 10  # another tensor: rebuilt
    graph["cites"].edge_index[1, 0] = 29
    rebuilt = graph.csr("cites")
    assert rebuilt.col.numel() == 10 and int(rebuilt.rowptr[30] - rebuilt.rowptr[29]) >= 1  # edited in place


def test_transforms_keep_node_types_without_nodes():
    graph = gnnx.HeteroGraph()
    graph["a"].x = torch.rand(4, 3)
    graph["b"].x = torch.rand(0, 3)
    graph["a", "to", "b"].edge_index = torch.empty(2, 0, dtype=torch.long)
    graph["a", "self", "a"].edge_index = torch.tensor([[0, 1], [1, 2]])
    normalized = T.NormalizeFeatures()(graph)
    assert normalized["b"].x.shape == (0, 3)
    shifted = graph["a"].x - graph["a"].x.min()
    torch.testing.assert_close(normalized["a"].x, shifted / shifted.sum(1, keepdim=True).clamp(min=1))
    undirected = T.AddSelfLoops()(T.ToUndirected()(graph))
    assert undirected["b", "rev_to", "a"].edge_index.shape == (2, 0)
