"""Norms, aggregation modules and top-k pooling: PyG parity (same weights), compiled without
recompiles, and exported with dynamic node counts (static pooling included)."""
import pytest
import torch
from torch.export import Dim

import gnnx.nn as gnn

pyg_nn = pytest.importorskip("torch_geometric.nn")

F, B = 6, 3


def batched(seed: int, sizes=(5, 9, 7)):
    gen = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    x = torch.randn(n, F, generator=gen)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    starts = torch.tensor([0, *sizes]).cumsum(0)[:-1]
    edges = []
    for g, size in enumerate(sizes):  # random edges inside each graph
        edges.append(torch.randint(size, (2, 3 * size), generator=gen) + starts[g])
    return x, torch.cat(edges, 1), batch


NORMS = [
    ("layer-graph", lambda ns: ns.LayerNorm(F)),
    ("layer-node", lambda ns: ns.LayerNorm(F, mode="node")),
    ("graph", lambda ns: ns.GraphNorm(F)),
    ("instance-affine-running", lambda ns: ns.InstanceNorm(F, affine=True, track_running_stats=True)),
    ("pair", lambda ns: ns.PairNorm(scale=2.0)),
    ("pair-individual", lambda ns: ns.PairNorm(scale_individually=True)),
    ("graph-size", lambda ns: ns.GraphSizeNorm()),
    ("mean-subtraction", lambda ns: ns.MeanSubtractionNorm()),
]

AGGRS = [
    ("softmax-learn", lambda ns: ns.aggr.SoftmaxAggregation(t=0.5, learn=True, channels=F)),
    ("powermean", lambda ns: ns.aggr.PowerMeanAggregation(p=2.0, learn=True)),
    ("attentional", lambda ns: ns.aggr.AttentionalAggregation(torch.nn.Linear(F, 1), torch.nn.Linear(F, 4))),
    ("set2set", lambda ns: ns.aggr.Set2Set(F, processing_steps=3)),
]


def _pair(make):
    torch.manual_seed(0)
    ours = make(gnn)
    theirs = make(pyg_nn)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


@pytest.mark.parametrize("name,make", NORMS, ids=[n for n, _ in NORMS])
@pytest.mark.parametrize("train", [True, False])
def test_norms_match_pyg(name, make, train):
    x, _, batch = batched(1)
    ours, theirs = _pair(make)
    ours.train(train), theirs.train(train)
    for _ in range(2):  # twice, so running statistics are used and updated alike
        torch.testing.assert_close(ours(x, batch, B), theirs(x, batch, B), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
    assert repr(ours) == repr(theirs) or name not in ("graph-size", "mean-subtraction")


def test_message_norm_matches_pyg():
    x, _, _ = batched(2)
    msg = torch.randn_like(x)
    ours, theirs = _pair(lambda ns: ns.MessageNorm(learn_scale=True))
    torch.testing.assert_close(ours(x, msg), theirs(x, msg))


@pytest.mark.parametrize("name,make", AGGRS, ids=[n for n, _ in AGGRS])
def test_aggregations_match_pyg(name, make):
    x, _, batch = batched(3)
    ours, theirs = _pair(make)
    torch.testing.assert_close(ours(x, batch, dim_size=B), theirs(x, batch, dim_size=B), rtol=1e-5, atol=1e-5)


def _static_frame(module):
    """A norm, aggregation or static pooling behind the signature (x, batch) -> tensor."""

    class Frame(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.m = module

        def forward(self, x, edge_index, batch):
            if isinstance(self.m, (gnn.TopKPooling, gnn.SAGPooling)):
                out = self.m(x, edge_index, batch=batch, batch_size=B)
                return out.x, out.edge_index * out.edge_mask
            if isinstance(self.m, gnn.aggr.Aggregation):
                return self.m(x, batch, dim_size=B)
            return self.m(x, batch, B)

    return Frame()


STATIC = [(n, m) for n, m in NORMS + AGGRS] + [
    ("topk-static", lambda ns: ns.TopKPooling(F, ratio=4, static=True)),
    ("sag-static", lambda ns: ns.SAGPooling(F, ratio=3, static=True)),
]


@pytest.mark.parametrize("name,make", STATIC, ids=[n for n, _ in STATIC])
def test_compile_and_export_with_dynamic_sizes(name, make):
    torch.manual_seed(0)
    frame = _static_frame(make(gnn)).eval()
    compiled = torch.compile(frame, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(5, 9, 7), (8, 4, 11), (12, 6, 3)]):
        x, edge_index, batch = batched(i, sizes)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            actual = compiled(x, edge_index, batch)
        torch.testing.assert_close(actual, frame(x, edge_index, batch), rtol=1e-5, atol=1e-5)
    x, edge_index, batch = batched(0)
    nodes, edges = Dim("num_nodes", min=4), Dim("num_edges", min=2)
    program = torch.export.export(frame, (x, edge_index, batch),
                                  dynamic_shapes=({0: nodes}, {1: edges}, {0: nodes}))
    x, edge_index, batch = batched(5, (10, 13, 6))
    torch.testing.assert_close(program.module()(x, edge_index, batch), frame(x, edge_index, batch),
                               rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["TopKPooling", "SAGPooling"])
@pytest.mark.parametrize("ratio", [0.5, 4])
def test_pooling_matches_pyg(kind, ratio):
    x, edge_index, batch = batched(4)
    edge_attr = torch.randn(edge_index.size(1), 2)
    ours, theirs = _pair(lambda ns: getattr(ns, kind)(F, ratio=ratio))
    actual = ours(x, edge_index, edge_attr, batch)
    expected = theirs(x, edge_index, edge_attr, batch)
    for a, e in zip(actual, expected):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


def test_pooling_min_score_matches_pyg():
    x, edge_index, batch = batched(6)
    ours, theirs = _pair(lambda ns: ns.TopKPooling(F, min_score=0.2))
    for a, e in zip(ours(x, edge_index, batch=batch), theirs(x, edge_index, batch=batch)):
        torch.testing.assert_close(a, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kind", ["TopKPooling", "SAGPooling"])
def test_static_pooling_holds_pygs_result_in_fixed_slots(kind):
    k = 6
    x, edge_index, batch = batched(7, (5, 9, 7))  # the first graph has fewer than k nodes
    torch.manual_seed(0)
    static = getattr(gnn, kind)(F, ratio=k, static=True)
    dynamic = getattr(gnn, kind)(F, ratio=k)
    dynamic.load_state_dict(static.state_dict())
    out = static(x, edge_index, batch=batch, batch_size=B)
    x_ref, edge_ref, _, batch_ref, perm_ref, score_ref = dynamic(x, edge_index, batch=batch)
    assert out.x.shape == (B * k, F) and out.edge_index.shape == edge_index.shape
    assert int(out.node_mask.sum()) == perm_ref.numel() == 5 + 6 + 6
    torch.testing.assert_close(out.x[out.node_mask], x_ref)
    torch.testing.assert_close(out.perm[out.node_mask], perm_ref)
    torch.testing.assert_close(out.batch[out.node_mask], batch_ref)
    assert (out.x[~out.node_mask] == 0).all()
    # Same edges, renumbered from slots to the compact numbering of the dynamic result.
    compact = torch.cumsum(out.node_mask.long(), 0) - 1
    torch.testing.assert_close(compact[out.edge_index[:, out.edge_mask]], edge_ref)


def test_static_pooling_needs_an_int_ratio_and_batch_size():
    with pytest.raises(ValueError, match="int k"):
        gnn.TopKPooling(F, ratio=0.5, static=True)
    x, edge_index, batch = batched(0)
    with pytest.raises(ValueError, match="batch_size"):
        gnn.TopKPooling(F, ratio=2, static=True)(x, edge_index, batch=batch)


def test_diff_group_norm_equals_pygs_in_training_and_evaluation():
    import torch_geometric

    from cases import assert_same_outputs_and_gradients

    torch.manual_seed(0)
    ours, theirs = gnn.DiffGroupNorm(8, 3, lamda=0.5), torch_geometric.nn.DiffGroupNorm(8, 3, lamda=0.5)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x = torch.randn(30, 8)
    assert_same_outputs_and_gradients(ours, theirs, x)
    ours.eval(), theirs.eval()
    torch.testing.assert_close(ours(x), theirs(x))
    y = torch.randint(3, (30,))
    assert ours.group_distance_ratio(x, y) == pytest.approx(theirs.group_distance_ratio(x, y))
