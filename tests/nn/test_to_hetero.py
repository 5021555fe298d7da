"""to_hetero: PyG's state-dict keys and values (forward and gradients), its errors, and
compiled dict inputs without recompiles."""
import pytest
import torch

import gnnx.nn as gnn
from cases import HETERO_METADATA, IN, random_hetero_graph

pyg_nn = pytest.importorskip("torch_geometric.nn")

pytestmark = pytest.mark.filterwarnings("ignore::UserWarning")


def custom(nn, aggr_out=16):
    """A hand-written model: two bipartite SAGE layers, a Linear and a residual, as PyG's docs."""
    class GNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.SAGEConv((-1, -1), 16)
            self.lin = torch.nn.Linear(16, 16)
            self.conv2 = nn.SAGEConv((16, 16), aggr_out)

        def forward(self, x, edge_index):
            x = self.conv1(x, edge_index).relu()
            x = self.lin(x) + x
            return self.conv2(x, edge_index)
    return GNN()


def with_edge_features(nn):
    """Edge-level input (``edge_attr``) and a Sequential traced member by member."""
    class GNN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.GATConv((-1, -1), 8, heads=2, edge_dim=3, add_self_loops=False)
            self.head = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4))

        def forward(self, x, edge_index, edge_attr):
            return self.head(self.conv(x, edge_index, edge_attr))
    return GNN()


MODELS = {
    "custom-sum": (lambda nn: custom(nn), "sum"),
    "custom-mean": (lambda nn: custom(nn), "mean"),
    "custom-max": (lambda nn: custom(nn), "max"),
    "GraphSAGE-jk-cat": (lambda nn: nn.GraphSAGE(IN, 16, 2, 4, jk="cat"), "sum"),
    "GAT-heads": (lambda nn: nn.GAT(IN, 16, 2, 4, heads=2, add_self_loops=False), "mean"),
    "GIN": (lambda nn: nn.GIN(IN, 16, 2, 4), "sum"),
    "edge-features": (with_edge_features, "sum"),
}


def _inputs(model_id, sizes, seed=0):
    x_dict, edge_index_dict = random_hetero_graph(*sizes, seed=seed)
    if model_id != "edge-features":
        return x_dict, edge_index_dict
    gen = torch.Generator().manual_seed(seed + 1)
    edge_attr_dict = {k: torch.randn(v.size(1), 3, generator=gen) for k, v in edge_index_dict.items()}
    return x_dict, edge_index_dict, edge_attr_dict


def _pair(model_id):
    make, aggr = MODELS[model_id]
    torch.manual_seed(0)
    ours = gnn.to_hetero(make(gnn), HETERO_METADATA, aggr=aggr)
    theirs = pyg_nn.to_hetero(make(pyg_nn), HETERO_METADATA, aggr=aggr)
    inputs = _inputs(model_id, (9, 6, 20))
    with torch.no_grad():  # materialise lazy widths
        ours(*inputs), theirs(*inputs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.porting
@pytest.mark.parametrize("model_id", list(MODELS))
def test_equals_pyg_to_hetero_with_its_state_dict(model_id):
    ours, theirs = _pair(model_id)
    ours.train(), theirs.train()
    inputs = _inputs(model_id, (13, 8, 40), seed=1)
    for value in inputs[0].values():
        value.requires_grad_()
    out, expected = ours(*inputs), theirs(*inputs)
    assert out.keys() == expected.keys()
    for key in out:
        torch.testing.assert_close(out[key], expected[key], rtol=1e-5, atol=1e-5)
    sum(o.square().sum() for o in out.values()).backward()
    ours_grads = {n: p.grad.clone() for n, p in ours.named_parameters()}
    x_grads = {k: v.grad.clone() for k, v in inputs[0].items()}
    for value in inputs[0].values():
        value.grad = None
    sum(o.square().sum() for o in expected.values()).backward()
    for name, param in theirs.named_parameters():
        torch.testing.assert_close(ours_grads[name], param.grad, rtol=1e-4, atol=1e-5, msg=name)
    for key, value in inputs[0].items():
        torch.testing.assert_close(x_grads[key], value.grad, rtol=1e-4, atol=1e-5)


def test_copies_are_reinitialised_per_type_and_keys_are_pygs():
    model = gnn.to_hetero(custom(gnn), HETERO_METADATA)
    model(*random_hetero_graph(5, 4, 8))  # lazy widths materialise on the first call
    keys = set(model.state_dict())
    assert {"conv1.author__writes__paper.lin_l.weight", "lin.paper.weight", "lin.author.bias"} <= keys
    assert not torch.equal(model.lin.paper.weight, model.lin.author.weight)


def test_self_loops_on_bipartite_relations_are_refused_as_in_pyg():
    class GCN(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = gnn.GCNConv(IN, 4)

        def forward(self, x, edge_index):
            return self.conv(x, edge_index)

    with pytest.raises(ValueError, match="'add_self_loops' attribute set to 'True'"):
        gnn.to_hetero(GCN(), HETERO_METADATA)


def test_node_types_that_receive_no_messages_are_named():
    """'paper' gets no messages, so the second layer has no 'paper' features to read: the
    transform says so (PyG: "Cannot generate a graph node ... for type")."""
    metadata = (["paper", "author"], [("paper", "written_by", "author")])
    with pytest.warns(UserWarning, match="do not get updated"), \
            pytest.raises(ValueError, match="needs 'conv1' for type 'paper'"):
        gnn.to_hetero(custom(gnn), metadata)


def test_missing_node_and_edge_types_in_the_inputs_are_named():
    """PyG passes None for a missing type, which fails inside a layer without naming it."""
    model = gnn.to_hetero(custom(gnn), HETERO_METADATA)
    x_dict, edge_index_dict = random_hetero_graph(30, 20, 60, seed=0)
    with torch.no_grad():
        model(x_dict, edge_index_dict)
        missing = next(iter(x_dict))
        with pytest.raises(ValueError, match=rf"the input 'x' has no \['{missing}'\]"):
            model({k: v for k, v in x_dict.items() if k != missing}, edge_index_dict)
        dropped = next(iter(edge_index_dict))
        with pytest.raises(ValueError, match=r"the input 'edge_index' has no \[\(" + repr(dropped[0])):
            model(x_dict, {k: v for k, v in edge_index_dict.items() if k != dropped})


@pytest.mark.parametrize("model_id", ["custom-mean", "GraphSAGE-jk-cat", "edge-features"])
def test_compiles_on_dict_inputs_without_recompiling(model_id):
    ours, _ = _pair(model_id)
    ours.eval()
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 50), (33, 7, 90), (57, 25, 31)]):
        inputs = _inputs(model_id, sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i > 0), torch.no_grad():
            out, expected = compiled(*inputs), ours(*inputs)
        for key in expected:
            torch.testing.assert_close(out[key], expected[key], rtol=1e-4, atol=1e-5)


def test_gnnx_compile_trains_on_mini_batches_with_empty_types_without_recompiling():
    """Sampled heterogeneous batches often have a relation with no edges or a node type with
    one node: gnnx.compile pads those (two rows per node type, two edges per relation)."""
    import gnnx

    model = gnn.to_hetero(gnn.GraphSAGE(IN, 16, 2, 4), HETERO_METADATA, aggr="mean")
    compiled = gnnx.compile(model)
    for i, sizes in enumerate([(20, 11, 50), (33, 7, 90), (5, 1, 0), (0, 4, 0), (1, 1, 1), (9, 9, 0)]):
        x_dict, edge_index_dict = random_hetero_graph(*sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i > 1):
            out = compiled(x_dict, edge_index_dict)
        expected = model(x_dict, edge_index_dict)
        for key in expected:
            torch.testing.assert_close(out[key], expected[key], rtol=1e-4, atol=1e-5)
        grads = torch.autograd.grad(sum(o.square().sum() for o in out.values()), list(model.parameters()),
                                    allow_unused=True)
        reference = torch.autograd.grad(sum(o.square().sum() for o in expected.values()), list(model.parameters()),
                                        allow_unused=True)
        for got, want in zip(grads, reference):
            if want is not None:
                torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
