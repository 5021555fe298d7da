"""``gnnx.compile`` on heterogeneous mini-batches: the padded per-type layout that CUDA graphs
replay (:mod:`gnnx._compile_hetero`). On the CPU the padded call runs as it is (no capture), so
the layout, the renumbering, trimming through the padding and the real rows handed back are
checked in CI; on CUDA the same through captured and replayed graphs."""
import inspect

import pytest
import torch
import torch.nn.functional as F

import gnnx
import gnnx.nn as gnn
from gnnx._compile_hetero import MARGIN, ROUND, Capacities, HeteroReplay, _fill, capacities, read_call
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph
from gnnx.utils import trim_to_layer


class RGAT(torch.nn.Module):
    """MLPerf's R-GAT shape (HeteroConv of GATConv per relation), trimmed per layer when given
    the per-hop counts; returns the papers' logits, or every type's features with ``as_dict``."""

    def __init__(self, edge_types, layers: int = 2, as_dict: bool = False):
        super().__init__()
        self.as_dict = as_dict
        self.convs = torch.nn.ModuleList(
            gnn.HeteroConv({e: gnn.GATConv((-1, -1), 4, heads=2, add_self_loops=False) for e in edge_types})
            for _ in range(layers))
        self.lin = torch.nn.Linear(8, 3)

    def forward(self, x_dict, edge_index_dict, num_sampled_nodes_dict=None, num_sampled_edges_dict=None):
        for layer, conv in enumerate(self.convs):
            if num_sampled_nodes_dict is not None:
                x_dict, edge_index_dict, _ = trim_to_layer(layer, num_sampled_nodes_dict, num_sampled_edges_dict,
                                                           x_dict, edge_index_dict)
            x_dict = {k: F.leaky_relu(v) for k, v in conv(x_dict, edge_index_dict).items()}
        return x_dict if self.as_dict else self.lin(x_dict["paper"])


@pytest.fixture(scope="module")
def graph():
    return hetero_benchmark_graph(scale=0.003, num_features=8)  # IGBH's 4 node and 8 edge types


def _batches(graph, count: int, device: str = "cpu"):
    graph = graph.to(device)
    loader = NeighborLoader(graph, num_neighbors=[4, 3], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=16, shuffle=True)
    torch.manual_seed(1)
    return [b for _, b in zip(range(count), loader)]


def _arguments(batch, trimmed: bool):
    counts = (batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict) if trimmed else ()
    return (batch.x_dict, batch.edge_index_dict, *counts)


def _model(batch, trimmed: bool, as_dict: bool = False, device: str = "cpu"):
    torch.manual_seed(0)
    model = RGAT(list(batch.edge_index_dict), as_dict=as_dict).to(device)
    with torch.no_grad():
        model(*_arguments(batch, trimmed))  # lazy widths
    return model


def _step(model, call, batch, trimmed: bool):
    model.zero_grad()
    out = call(*_arguments(batch, trimmed))
    logits = out["paper"] if isinstance(out, dict) else out
    F.cross_entropy(logits[:16], batch["paper"].y[:16] % 3).backward()
    return out, [torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in model.parameters()]


def _padded_runner(model):
    """The padding of gnnx.compile's heterogeneous capture, run eagerly (no capture)."""
    replay = HeteroReplay(model, model, inspect.signature(model.forward), capture=lambda flat, static, warmup: flat)
    signature = inspect.signature(model.forward)

    def call(*args):
        arguments = signature.bind(*args).arguments
        hetero = read_call(arguments)
        assert hetero is not None
        out = replay.run(arguments, hetero, limit=16)
        assert out is not None
        return out

    return replay, call


@pytest.mark.parametrize("trimmed", [False, True], ids=["full", "trimmed"])
@pytest.mark.parametrize("as_dict", [False, True], ids=["tensor", "dict"])
def test_padded_layout_equals_the_model_on_real_rows(graph, trimmed, as_dict):
    """Batches of other sizes through the padded layout (blocks per hop when trimmed): the real
    rows of every output and every parameter gradient equal the model's on the batch itself."""
    batches = _batches(graph, 4)
    model = _model(batches[0], trimmed, as_dict)
    replay, padded = _padded_runner(model)
    for batch in batches:
        expected, expected_grads = _step(model, model, batch, trimmed)
        got, grads = _step(model, padded, batch, trimmed)
        if as_dict:
            assert got.keys() == expected.keys()
            for key in expected:
                assert got[key].shape == expected[key].shape, key
                torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6)
        else:
            assert got.shape == expected.shape
            torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(grads, expected_grads, rtol=1e-5, atol=1e-6)
    assert len(replay.captured) == 1  # grown capacities drop the graph of the old ones


def test_capacities_only_grow_and_keep_prefixes_apart():
    def call(nodes, edges):
        return type("Call", (), {"nodes": nodes, "edges": edges})

    first = capacities(call({"a": (1000, 4000), "b": (0, 3000)}, {("a", "r", "b"): (5000, 0)}), None)
    assert all(c >= ROUND for blocks in (*first.nodes.values(), *first.edges.values()) for c in blocks)
    assert first.nodes["a"][0] >= 1001 and first.nodes["b"][0] >= 1 and first.edges[("a", "r", "b")][0] >= 5000
    prefixes = [sum(b[:h + 1]) for b in (*first.nodes.values(), *first.edges.values()) for h in range(len(b))]
    assert len(prefixes) == len(set(prefixes))  # an output's rows name its type
    same = capacities(call({"a": (990, 3950), "b": (0, 2990)}, {("a", "r", "b"): (4900, 0)}), first)
    assert same is first  # fits: the captured graph replays
    grown = capacities(call({"a": (1000, 6000), "b": (0, 3000)}, {("a", "r", "b"): (5000, 0)}), first)
    assert grown.nodes["a"][1] >= 6001 * (1 + 2 * MARGIN) and grown.margins["a"] == (MARGIN, 2 * MARGIN)  # doubled
    assert grown.nodes["a"][0] == first.nodes["a"][0] and grown.nodes["b"] == first.nodes["b"]  # the rest kept
    assert capacities(call({"a": (100, 500), "b": (0, 200)}, {("a", "r", "b"): (300, 0)}), grown) is None  # mostly padding
    assert isinstance(grown, Capacities)


def test_fill_copies_blocks_and_zeroes_the_spare_feature_rows_a_larger_batch_left():
    """The captured graph passes feature buffers to the model as they are, so the spare rows
    of each block must be zero after every fill, whatever an earlier (larger) batch left there."""
    features = torch.full((10, 2), 7.0)  # blocks of capacity 4 and 6, stale values everywhere
    edge_index = torch.full((2, 5), 9)
    static = [torch.zeros(3, dtype=torch.int64), features, edge_index]
    x, edges = torch.arange(10.0).view(5, 2), torch.tensor([[1, 2, 3], [0, 1, 2]])
    _fill(static, [2, 3, 3], [(x, False, (2, 3), (4, 6)), (edges, True, (3,), (5,))])
    assert static[0].tolist() == [2, 3, 3]
    torch.testing.assert_close(features[[0, 1, 4, 5, 6]], x)
    assert features[[2, 3, 7, 8, 9]].eq(0).all()
    assert edge_index[:, :3].tolist() == edges.tolist()  # spare columns are set inside the graph


def test_calls_it_cannot_pad_are_left_alone():
    x = {"a": torch.randn(3, 2)}
    edge_index = {("a", "r", "a"): torch.tensor([[0, 1], [1, 2]])}
    assert read_call({"x_dict": x, "edge_index_dict": edge_index}) is not None
    assert read_call({"x_dict": x, "edge_index_dict": edge_index, "batch": torch.zeros(3)}) is None
    assert read_call({"x_dict": x, "edge_index_dict": edge_index, "extra": [torch.zeros(3)]}) is None  # not bakeable
    assert read_call({"x_dict": x, "edge_index_dict": edge_index, "size": 3, "flags": (True, None)}) is not None
    assert read_call({"x_dict": {"a": x["a"].requires_grad_()}, "edge_index_dict": edge_index}) is None
    assert read_call({"x": torch.randn(3, 2), "edge_index": edge_index[("a", "r", "a")]}) is None
    assert read_call({"x_dict": x, "edge_index_dict": {("a", "r", "b"): edge_index[("a", "r", "a")]}}) is None
    counts = {"a": [1, 1]}, {("a", "r", "a"): [1, 1]}  # do not add up to the 3 nodes
    assert read_call({"x_dict": x, "edge_index_dict": edge_index, "n": counts[0], "e": counts[1]}) is None


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("trimmed", [False, True], ids=["full", "trimmed"])
def test_gnnx_compile_replays_heterogeneous_training_steps(graph, trimmed):
    """gnnx.compile trains on sampled batches of varying sizes from CUDA graphs: outputs and
    gradients equal eager, one compiled frame, a few captures."""
    batches = _batches(graph, 6, "cuda")
    model = _model(batches[0], trimmed, device="cuda")
    twin = _model(batches[0], trimmed, device="cuda")
    twin.load_state_dict(model.state_dict())
    torch._dynamo.reset()
    compiled = gnnx.compile(twin)
    for i, batch in enumerate(batches):
        expected, expected_grads = _step(model, model, batch, trimmed)
        with torch._dynamo.config.patch(error_on_recompile=i > 0):
            got, grads = _step(twin, compiled, batch, trimmed)
        torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(grads, expected_grads, rtol=1e-4, atol=1e-5)
    assert compiled.cuda_graph_fallback is None
    assert len(compiled._hetero.captured) == 1


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("training", [True, False], ids=["training", "inference"])
def test_a_failed_capture_leaves_random_ops_working(training):
    """A capture invalidated by an illegal call (a device synchronisation) raises, and the
    device's generator leaves capture mode: dropout runs after it (the uncaptured fallback's
    path), and so do captures and replays of other calls."""
    from gnnx._replay import graphed

    class SyncsWhenCaptured(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.lin = torch.nn.Linear(4, 4)

        def forward(self, x):
            if torch.cuda.is_current_stream_capturing():
                torch.cuda.synchronize()  # not allowed while capturing: invalidates the capture
            return F.dropout(self.lin(x), 0.5, training=True)

    x = torch.randn(8, 4, device="cuda")
    model = SyncsWhenCaptured().cuda().requires_grad_(training)
    with pytest.raises(Exception):
        graphed(model, [x])
    assert F.dropout(torch.ones(1000, device="cuda"), 0.5).eq(0).any()
    model.forward = lambda x: F.dropout(model.lin(x), 0.5, training=True)  # now capturable
    replay = graphed(model, [x])
    first, second = replay(x).detach().clone(), replay(x).detach().clone()
    assert not torch.equal(first, second)  # each replay draws a new mask
    torch.manual_seed(0)
    assert F.dropout(torch.ones(1000, device="cuda"), 0.5).eq(0).any()


def test_a_replay_awaiting_its_backward_is_not_replayed_again():
    """Two forwards before one backward: a captured graph holds one call's activations, so
    while its last replay awaits its backward a call runs uncaptured (gnnx.compile checks
    ``busy()``); a replay whose outputs were dropped awaits nothing."""
    from gnnx._replay import Replay

    class Graphed(torch.autograd.Function):  # as make_graphed_callables' replay: one Python node
        @staticmethod
        def forward(ctx, x):
            return x * 2

        @staticmethod
        def backward(ctx, grad):
            return grad * 2

    replay = Replay(Graphed.apply)
    x = torch.randn(3, requires_grad=True)
    first = replay(x)
    assert replay.busy()
    first.sum().backward()
    assert not replay.busy()
    replay(x)  # dropped at once: nothing awaits its backward
    assert not replay.busy()
    with torch.no_grad():
        replay(x)
    assert not replay.busy()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_gnnx_compile_two_heterogeneous_forwards_then_one_backward(graph):
    """Two views of a batch, then one backward: the second call runs uncaptured (the first
    replay's activations stay), and the gradients equal eager."""
    batch = _batches(graph, 1, "cuda")[0]
    views = [(batch.x_dict, batch.edge_index_dict), ({k: v * 0.5 for k, v in batch.x_dict.items()}, batch.edge_index_dict)]
    model = _model(batch, False, device="cuda")
    twin = _model(batch, False, device="cuda")
    twin.load_state_dict(model.state_dict())
    torch._dynamo.reset()
    compiled = gnnx.compile(twin)
    for _ in range(2):
        grads = []
        for net, call in ((model, model), (twin, compiled)):
            net.zero_grad()
            loss = sum(F.cross_entropy(call(*view)[:16], batch["paper"].y[:16] % 3) for view in views)
            loss.backward()
            grads.append([torch.zeros_like(p) if p.grad is None else p.grad.clone() for p in net.parameters()])
        torch.testing.assert_close(grads[1], grads[0], rtol=1e-4, atol=1e-5)
    assert compiled.cuda_graph_fallback is None and len(compiled._hetero.captured) == 1
