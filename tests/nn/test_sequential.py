"""``Sequential``: PyG's headers, child names, state dict, repr and results; compiled without
recompiles, exported with dynamic sizes, made heterogeneous by ``to_hetero``; bad headers named."""
import pytest
import torch
from torch.nn import Dropout, Linear, ReLU

import gnnx.export
import gnnx.nn as gnn
from cases import HETERO_METADATA, random_graph, random_hetero_graph

pyg_nn = pytest.importorskip("torch_geometric.nn")


def _jk_model(ns):
    """PyG's documented example: two convolutions, a lambda, jumping knowledge, a readout."""
    return ns.Sequential("x, edge_index, batch", [
        (Dropout(p=0.5), "x -> x"),
        (ns.GCNConv(8, 16), "x, edge_index -> x1"),
        ReLU(inplace=True),
        (ns.GCNConv(16, 16), "x1, edge_index -> x2"),
        ReLU(inplace=True),
        (lambda x1, x2: [x1, x2], "x1, x2 -> xs"),
        (ns.JumpingKnowledge("cat", 16, num_layers=2), "xs -> x"),
        (ns.global_mean_pool, "x, batch -> x"),
        Linear(32, 3),
    ])


def _plain_model(ns):
    return ns.Sequential("x: Tensor, edge_index: Tensor -> Tensor", {
        "conv1": (ns.SAGEConv(8, 16), "x, edge_index -> x"),
        "act": ReLU(),
        "conv2": (ns.GCNConv(16, 4), "x, edge_index -> x"),
    })


@pytest.mark.porting
@pytest.mark.parametrize("build", [_jk_model, _plain_model], ids=["jk-pool", "dict-typed"])
def test_equals_pyg(build):
    torch.manual_seed(0)
    ours, theirs = build(gnn).eval(), build(pyg_nn).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x, edge_index, _, _ = random_graph(30, 120)
    args = (x, edge_index) if build is _plain_model else (x, edge_index, torch.arange(30) // 10)
    torch.testing.assert_close(ours(*args), theirs(*args))
    torch.testing.assert_close(ours(*args[:1], edge_index=edge_index, **(
        {"batch": args[2]} if len(args) == 3 else {})), theirs(*args))
    if build is _plain_model:  # (a lambda's repr holds its address)
        assert repr(ours) == repr(theirs)
    assert len(ours) == len(theirs) and type(ours[0]).__name__ == type(theirs[0]).__name__


def test_compiled_without_recompiles_and_exported(tmp_path):
    torch.manual_seed(0)
    model = _plain_model(gnn).eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, size in enumerate([(20, 64), (33, 101), (47, 150)]):
        x, edge_index, _, _ = random_graph(*size, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, edge_index), model(x, edge_index))
    x, edge_index, _, _ = random_graph(20, 64)
    program = gnnx.export.export(model, (x, edge_index))
    x, edge_index, _, _ = random_graph(41, 170, seed=3)
    torch.testing.assert_close(program.module()(x, edge_index), model(x, edge_index))


def test_to_hetero_of_a_sequential_model():
    torch.manual_seed(0)
    model = gnn.to_hetero(gnn.Sequential("x, edge_index", [
        (gnn.SAGEConv((-1, -1), 16), "x, edge_index -> x"), ReLU(), (gnn.SAGEConv((-1, -1), 4), "x, edge_index -> x"),
    ]), HETERO_METADATA, aggr="sum")
    x_dict, edge_index_dict = random_hetero_graph(12, 7, 30)
    out = model(x_dict, edge_index_dict)
    assert set(out) == {"paper", "author"} and out["paper"].shape == (12, 4)
    assert "convs" not in dict(model.named_children()) and hasattr(model.module_0, "paper__cites__paper")


def test_pickles_and_copies():
    import copy
    import io

    model = _plain_model(gnn)
    x, edge_index, _, _ = random_graph(20, 64)
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    for clone in (copy.deepcopy(model), torch.load(buffer, weights_only=False)):
        assert isinstance(clone, gnn.Sequential) and repr(clone) == repr(model)
        torch.testing.assert_close(clone(x, edge_index), model(x, edge_index))


def test_bad_headers_are_named():
    with pytest.raises(ValueError, match="first module needs its header"):
        gnn.Sequential("x, edge_index", [gnn.GCNConv(4, 4)])
    with pytest.raises(ValueError, match="failed to parse the header"):
        gnn.Sequential("x, edge_index", [(gnn.GCNConv(4, 4), "x, edge_index")])
    for header in ("x, x", "x, lambda", "self, x", "x-1"):
        with pytest.raises(ValueError, match="distinct names"):
            gnn.Sequential(header, [(gnn.GCNConv(4, 4), "x -> x")])
    with pytest.raises(ValueError, match="non-empty"):
        gnn.Sequential("x", [])
    model = gnn.Sequential("x, edge_index", [(gnn.GCNConv(4, 4), "x, edge_weight -> x")])
    with pytest.raises(ValueError, match=r"module_0 reads \['edge_weight'\]"):
        model(torch.randn(3, 4), torch.tensor([[0, 1], [1, 2]]))
    with pytest.raises(TypeError, match="multiple values for argument"):
        model(torch.randn(3, 4), x=torch.randn(3, 4))
