"""Pad: PyG's padded graphs (homogeneous and heterogeneous, every padding kind), named
errors, and the point of it: a dataset of varied sizes served by one static compiled shape."""
import pytest
import torch

import gnnx
import gnnx.nn as gnn
from gnnx.transforms import AttrNamePadding, EdgeTypePadding, NodeTypePadding, Pad, UniformPadding

pyg_transforms = pytest.importorskip("torch_geometric.transforms")


def _graph(num_nodes=7, num_edges=12, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    return gnnx.Graph(edge_index, num_nodes, x=torch.randn(num_nodes, 3, generator=gen),
                      y=torch.randint(0, 4, (num_nodes,), generator=gen),
                      edge_attr=torch.randn(num_edges, 2, generator=gen), edge_weight=torch.rand(num_edges, generator=gen),
                      train_mask=torch.rand(num_nodes, generator=gen) < 0.5, score=torch.randn(num_nodes, generator=gen))


def _same(ours, theirs, names):
    for name in names:
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name


@pytest.mark.parametrize("kwargs", [
    {"max_num_nodes": 10, "max_num_edges": 20},
    {"max_num_nodes": 9},  # edges to 81, PyG's default
    {"max_num_nodes": 12, "max_num_edges": 15, "node_pad_value": -1.0, "edge_pad_value": 2.5,
     "mask_pad_value": True, "add_pad_mask": True},
    {"max_num_nodes": 10, "max_num_edges": 12, "node_pad_value": AttrNamePadding({"x": 3.0}, default=-2.0),
     "edge_pad_value": AttrNamePadding({"edge_attr": 7.0}), "exclude_keys": ["score"]},
])
def test_pad_equals_pyg(kwargs):
    graph = _graph()
    ours = Pad(**kwargs)(graph)
    theirs = pyg_transforms.Pad(**{k: _pyg_padding(v) for k, v in kwargs.items()})(graph.to_pyg())
    assert ours.num_nodes == theirs.num_nodes and ours.num_edges == theirs.num_edges
    names = ["edge_index", "x", "y", "edge_attr", "edge_weight", "train_mask"]
    names += ["pad_node_mask", "pad_edge_mask"] if kwargs.get("add_pad_mask") else []
    names += [] if "score" in kwargs.get("exclude_keys", []) else ["score"]
    _same(ours, theirs, names)
    assert ("score" in ours.attrs) == ("score" in theirs)
    assert torch.equal(graph.x, _graph().x)  # the input is untouched


def _pyg_padding(value):
    """Our padding object as PyG's (same class name, same fields)."""
    import torch_geometric.transforms.pad as pyg_pad
    if isinstance(value, UniformPadding):
        return pyg_pad.UniformPadding(value.value)
    if isinstance(value, (AttrNamePadding, NodeTypePadding, EdgeTypePadding)):
        cls = getattr(pyg_pad, type(value).__name__)
        return cls({k: _pyg_padding(v) for k, v in value.values.items()}, default=value.default.value)
    return value


def test_heterogeneous_pad_equals_pyg():
    pyg_data = pytest.importorskip("torch_geometric.data")
    gen = torch.Generator().manual_seed(1)
    data = pyg_data.HeteroData()
    data["v0"].x, data["v1"].x, data["v2"].x = (torch.randn(n, 3, generator=gen) for n in (4, 6, 3))
    data["v1"].y = torch.arange(6)
    data["v0", "e0", "v1"].edge_index = torch.stack([torch.randint(0, 4, (9,), generator=gen),
                                                     torch.randint(0, 6, (9,), generator=gen)])
    data["v0", "e0", "v1"].edge_attr = torch.randn(9, 2, generator=gen)
    data["v1", "e0", "v0"].edge_index = torch.stack([torch.randint(0, 6, (5,), generator=gen),
                                                     torch.randint(0, 4, (5,), generator=gen)])
    data["v1", "e0", "v0"].edge_attr = torch.randn(5, 2, generator=gen)
    num_nodes = {"v0": 10, "v1": 20, "v2": 30}
    num_edges = {("v0", "e0", "v1"): 80}
    node = NodeTypePadding({"v0": 3.0, "v1": AttrNamePadding({"x": -1.0}, default=0.5)}, default=1.0)
    edge = EdgeTypePadding({("v0", "e0", "v1"): 3.5,
                            ("v1", "e0", "v0"): AttrNamePadding({"edge_attr": -1.5}, default=5.5)}, default=1.5)
    ours = Pad(num_nodes, num_edges, node, edge, add_pad_mask=True)(gnnx.HeteroGraph.from_pyg(data))
    theirs = pyg_transforms.Pad(num_nodes, num_edges, _pyg_padding(node), _pyg_padding(edge),
                                add_pad_mask=True)(data)
    for node_type in num_nodes:
        assert ours[node_type].num_nodes == theirs[node_type].num_nodes
        for name in theirs[node_type].keys():
            if name == "num_nodes":
                continue
            assert torch.equal(ours[node_type][name], theirs[node_type][name]), (node_type, name)
    for edge_type in theirs.edge_types:
        for name in theirs[edge_type].keys():
            assert torch.equal(ours[edge_type][name], theirs[edge_type][name]), (edge_type, name)


def test_padded_dataset_compiles_once_for_static_shapes():
    pad = Pad(max_num_nodes=24, max_num_edges=64, add_pad_mask=True)
    torch.manual_seed(0)
    model = gnn.GCN(3, 8, num_layers=2, out_channels=2).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    for i, (n, e) in enumerate([(7, 12), (20, 50), (23, 63)]):
        graph = _graph(n, e, seed=i)
        padded = pad(graph)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i > 0):
            got = compiled(padded.x, padded.edge_index)[padded.pad_node_mask]
            expected = model(graph.x, graph.edge_index)
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)  # padding touches no real node


def test_bad_targets_are_named():
    graph = _graph()
    with pytest.raises(ValueError, match=r"number of nodes after padding \(5\) cannot be lower .* \(7\)"):
        Pad(5)(graph)
    with pytest.raises(ValueError, match=r"number of edges after padding \(10\)"):
        Pad(10, 10)(graph)
    with pytest.raises(ValueError, match="padded edges need a padded node"):
        Pad(7, 20)(graph)
    with pytest.raises(ValueError, match="apply to a HeteroGraph"):
        Pad(10, node_pad_value=NodeTypePadding({"a": 1.0}))(graph)
    with pytest.raises(ValueError, match="Expected the edge type"):
        EdgeTypePadding({("a", "b"): 1.0})
    assert repr(Pad(10, 20)) == ("Pad(max_num_nodes=10, max_num_edges=20, node_pad_value=UniformPadding(value=0.0), "
                                 "edge_pad_value=UniformPadding(value=0.0))")
