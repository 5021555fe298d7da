"""``gnnx.compile(model)`` and the structure cache: the user's path (plain tensors, an
ordinary training loop) equals eager, compiles once over several sizes, and prepares each
graph's structure once. Parametrised by device: ``cuda`` runs where a GPU is present
(with CUDA-graph capture and size buckets) and is skipped elsewhere."""
import contextlib
import gc
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

import gnnx
import gnnx.nn as gnn
from gnnx.ops import dispatch

DEVICES = ["cpu", pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(
    not torch.cuda.is_available(), reason="needs CUDA")])]
MODELS = ["GCN", "GraphSAGE", "GIN", "GAT", "EdgeCNN"]
SIZES = [(40, 160), (57, 230), (75, 300)]


def _graph(n, e, device, seed=0, features=8):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, features, generator=gen)
    edge_index = torch.randint(n, (2, e), generator=gen)
    y = torch.randint(4, (n,), generator=gen)
    return x.to(device), edge_index.to(device), y.to(device)


def _train_step(model, optimizer, x, edge_index, y):
    optimizer.zero_grad()
    out = model(x, edge_index)
    loss = F.cross_entropy(out, y)
    loss.backward()
    grads = [p.grad.clone() for p in optimizer.param_groups[0]["params"]]
    optimizer.step()
    return out.detach().clone(), loss.detach(), grads


def _twins(name, device):
    torch.manual_seed(0)
    model = getattr(gnn, name)(8, 16, 2, 4).to(device)
    twin = getattr(gnn, name)(8, 16, 2, 4).to(device)
    twin.load_state_dict(model.state_dict())
    return model, twin


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", MODELS)
def test_training_loop_equals_eager_without_recompiling(name, device):
    eager, twin = _twins(name, device)
    compiled = gnnx.compile(twin)
    opt_eager = torch.optim.SGD(eager.parameters(), lr=0.1)
    opt_compiled = torch.optim.SGD(twin.parameters(), lr=0.1)
    for i, size in enumerate(SIZES):
        x, edge_index, y = _graph(*size, device, seed=i)
        for _ in range(2):  # the same graph twice: the second step replays / hits the cache
            expected = _train_step(eager, opt_eager, x, edge_index, y)
            if i == len(SIZES) - 1:
                with torch._dynamo.config.patch(error_on_recompile=True):
                    actual = _train_step(compiled, opt_compiled, x, edge_index, y)
            else:
                actual = _train_step(compiled, opt_compiled, x, edge_index, y)
            torch.testing.assert_close(actual, expected, rtol=2e-4, atol=2e-5)
    if device == "cuda":
        assert compiled.cuda_graph_fallback is None
        assert len(compiled._captured) > 0  # the results above came from replayed graphs


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["GCN", "GAT"])
def test_inference_equals_eager(name, device):
    model, twin = _twins(name, device)
    model.eval()
    compiled = gnnx.compile(twin.eval())
    for i, size in enumerate(SIZES[:2]):
        x, edge_index, _ = _graph(*size, device, seed=10 + i)
        with torch.no_grad():
            expected = model(x, edge_index)
            for _ in range(2):
                torch.testing.assert_close(compiled(x, edge_index), expected, rtol=2e-4, atol=2e-5)


def test_compiled_module_keeps_the_model_interface():
    model = gnn.GCN(8, 16, 2, 4)
    compiled = gnnx.compile(model)
    assert list(compiled.state_dict()) == list(model.state_dict())
    compiled.load_state_dict(model.state_dict())
    assert compiled._orig_mod is model
    assert "GCN" in repr(compiled)

    @gnnx.compile
    def double(x, edge_index):
        return 2 * x

    x, edge_index, _ = _graph(10, 20, "cpu")
    torch.testing.assert_close(double(x, edge_index), 2 * x)


def test_structure_cache_follows_identity_version_and_lifetime():
    cache = dispatch.StructureCache(maxsize=3)
    _, edge_index, _ = _graph(20, 60, "cpu")
    first = cache.get(edge_index, 20)
    assert cache.get(edge_index, 20).csr is first.csr  # a hit
    assert cache.get(edge_index, 25).csr is not first.csr  # another node count
    edge_index[0, 0] = (edge_index[0, 0] + 1) % 20  # in place: a new version
    rebuilt = cache.get(edge_index, 20)
    assert rebuilt.csr is not first.csr
    torch.testing.assert_close(rebuilt.csr.col, gnnx.Graph(edge_index, 20).csr.col)
    entries = len(cache)
    del edge_index, first, rebuilt
    gc.collect()
    assert len(cache) < entries  # entries die with their tensor
    for seed in range(6):
        cache.get(_graph(20, 60, "cpu", seed=seed)[1].clone(), 20)
    assert len(cache) <= 3


def test_derived_edge_lists_are_not_sorted_on_first_sight():
    cache = dispatch.StructureCache()
    _, edge_index, _ = _graph(20, 60, "cpu")
    assert cache.get(edge_index, 20, eager_build=False) is None
    assert cache.get(edge_index, 20, eager_build=False) is not None  # the second sighting builds


def test_eager_layers_reuse_one_structure_and_gcn_weights():
    dispatch.structure_cache.clear()
    model = gnn.GCN(8, 16, 3, 4)
    x, edge_index, _ = _graph(30, 90, "cpu")
    out = model(x, edge_index)
    assert dispatch.structure_cache.misses == 1  # three layers, one sort
    model(x, edge_index)
    assert dispatch.structure_cache.misses == 1 and dispatch.structure_cache.hits >= 1
    graph = dispatch.structure_cache.get(edge_index, 30)
    assert any(isinstance(k, tuple) and k[0] == "gcn_norm" for k in graph._memo)
    reference = gnn.GCN(8, 16, 3, 4)
    reference.load_state_dict(model.state_dict())
    with torch.no_grad():  # the reference path (a freshly built edge list every call)
        torch.testing.assert_close(out, reference(x, edge_index.clone()), rtol=1e-5, atol=1e-6)


def test_bad_index_is_named_before_sorting():
    _, edge_index, _ = _graph(20, 60, "cpu")
    edge_index[1, 5] = 20
    with pytest.raises(ValueError, match="edge_index contains node index 20"):
        gnnx.compile(gnn.GraphSAGE(8, 16, 2))(torch.randn(20, 8), edge_index)


@pytest.mark.parametrize("size,expected", [(1, 16), (15, 16), (16, 24), (100, 120), (10_000, 10_344)])
def test_buckets_leave_a_spare_row_and_grow_geometrically(size, expected):
    from gnnx._compile import bucket

    assert bucket(size, 1.25) == expected


@pytest.mark.parametrize("device", DEVICES[1:])  # CUDA: padding serves the captured graphs
def test_the_first_size_runs_unpadded_and_other_sizes_go_to_buckets(device):
    model, twin = _twins("GraphSAGE", device)
    compiled = gnnx.compile(twin)
    first, second = SIZES[0], SIZES[1]
    with torch.no_grad():
        for size in (first, second, first):
            x, edge_index, _ = _graph(*size, device)
            torch.testing.assert_close(compiled(x, edge_index), model(x, edge_index), rtol=2e-4, atol=2e-5)
    rows = sorted(next(entry[1][0] for entry in key[0] if entry[0] == "x") for key in compiled._captured)
    assert len(rows) == 2  # the third call replayed the first capture
    assert first[0] in rows and max(rows) > second[0]  # first exact, second padded to a bucket


@pytest.mark.parametrize("device", DEVICES)
def test_modes_switch_between_calls(device):
    """One compiled model called plainly, under bf16 autocast, under no_grad and under
    inference mode, in turn: each call runs as its mode asks (a CUDA graph captured in one
    mode is not replayed in another: autocast changes the precision and output dtype, and
    inference mode's buffers cannot be written outside it)."""
    model, twin = _twins("GraphSAGE", device)
    model.eval()
    compiled = gnnx.compile(twin.eval())
    x, edge_index, _ = _graph(*SIZES[0], device)
    modes = {"plain": contextlib.nullcontext, "autocast": lambda: torch.autocast(device, dtype=torch.bfloat16),
             "no_grad": torch.no_grad, "inference": torch.inference_mode}
    for name in ["plain", "autocast", "plain", "inference", "no_grad", "inference", "autocast", "no_grad"]:
        with modes[name]():
            expected, got = model(x, edge_index), compiled(x, edge_index)
        assert got.dtype == expected.dtype, name
        torch.testing.assert_close(got.float(), expected.float(), rtol=2e-2, atol=2e-2)
    if device == "cuda":  # one capture per mode, all replayed
        assert compiled.cuda_graph_fallback is None and len(compiled._captured) == 4


@pytest.mark.parametrize("device", DEVICES)
def test_training_under_autocast_equals_eager(device):
    eager, twin = _twins("GCN", device)
    compiled = gnnx.compile(twin)
    opt_eager = torch.optim.SGD(eager.parameters(), lr=0.1)
    opt_compiled = torch.optim.SGD(twin.parameters(), lr=0.1)
    x, edge_index, y = _graph(*SIZES[0], device)
    for _ in range(3):  # on CUDA: capture, then replays
        with torch.autocast(device, dtype=torch.bfloat16):
            expected = _train_step(eager, opt_eager, x, edge_index, y)
            actual = _train_step(compiled, opt_compiled, x, edge_index, y)
        assert actual[0].dtype == expected[0].dtype
        torch.testing.assert_close(actual, expected, rtol=3e-2, atol=3e-2)
    if device == "cuda":
        assert compiled.cuda_graph_fallback is None and len(compiled._captured) == 1


@pytest.mark.parametrize("device", DEVICES)
def test_an_output_kept_across_calls_stays_right(device):
    model, twin = _twins("GraphSAGE", device)
    compiled = gnnx.compile(twin)
    x, edge_index, _ = _graph(*SIZES[0], device)
    kept = [compiled(x + i, edge_index) for i in range(3)]  # replays overwrite captured buffers
    for i, out in enumerate(kept):
        torch.testing.assert_close(out, model(x + i, edge_index), rtol=2e-4, atol=2e-5)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["GCN", "GraphSAGE", "GIN"])
def test_eager_cached_path_equals_uncached_and_repeats_bitwise(name, device):
    """Eager calls on a cached structure (MKL / cuSPARSE) equal calls on a fresh edge list
    every time (reference on CPU, Triton on CUDA), forward and backward, and repeat exactly."""
    model, twin = _twins(name, device)
    x, edge_index, y = _graph(*SIZES[1], device)

    def step(m, ei):
        m.zero_grad()
        out = m(x, ei)
        F.cross_entropy(out, y).backward()
        return out.detach(), [p.grad.clone() for p in m.parameters()]

    cached = [step(model, edge_index) for _ in range(3)]
    fresh = step(twin, edge_index.clone())
    torch.testing.assert_close(cached[-1], fresh, rtol=2e-4, atol=2e-5)
    assert torch.equal(cached[1][0], cached[2][0]) and all(
        torch.equal(a, b) for a, b in zip(cached[1][1], cached[2][1]))


@pytest.mark.parametrize("case_id", ["gcn", "gat-heads", "transformer-heads-edge", "GraphSAGE-jk-cat"])
def test_tiny_graphs_run_without_recompiling(case_id):
    """No nodes, one node, no edges, one edge: Dynamo specialises sizes 0 and 1, so gnnx.compile pads
    such graphs to two nodes and two edges (rows do not mix) instead of compiling again."""
    import sys

    sys.path.insert(0, "tests")
    from cases import ALL, call, random_graph

    case = next(c for c in ALL if c.id == case_id)
    model = case.gnnx().train()
    compiled = gnnx.compile(model)
    for i, size in enumerate([(20, 64), (33, 101), (1, 0), (7, 0), (40, 1), (1, 5), (0, 0)]):
        x, edge_index, edge_weight, edge_attr = random_graph(*size, seed=i)
        x.requires_grad_()
        with torch._dynamo.config.patch(error_on_recompile=i > 1):
            out = call(compiled, case, x, edge_index, edge_weight, edge_attr)
        out.sum().backward()
        grad, x.grad = x.grad, None
        expected = call(model, case, x, edge_index, edge_weight, edge_attr)
        expected.sum().backward()
        torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
        torch.testing.assert_close(grad, x.grad, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_two_forwards_then_one_backward_equal_eager(device):
    """Two calls before one backward (two views of a batch, as contrastive training does): a
    captured graph holds one call's activations, so on CUDA the second call runs uncaptured
    while the first replay awaits its backward; the gradients equal eager."""
    eager, twin = _twins("GraphSAGE", device)
    compiled = gnnx.compile(twin)
    x, edge_index, y = _graph(*SIZES[0], device)
    for _ in range(3):
        grads = []
        for model, call in ((eager, eager), (twin, compiled)):
            model.zero_grad()
            loss = F.cross_entropy(call(x, edge_index), y) + F.cross_entropy(call(x * 0.5, edge_index), y)
            loss.backward()
            grads.append([p.grad.clone() for p in model.parameters()])
        torch.testing.assert_close(grads[1], grads[0], rtol=2e-4, atol=2e-5)
    if device == "cuda":
        assert compiled.cuda_graph_fallback is None and len(compiled._captured) == 1


@torch.library.custom_op("gnnx_test::syncs_when_captured", mutates_args=())
def _syncs_when_captured(x: torch.Tensor) -> torch.Tensor:
    if x.is_cuda and torch.cuda.is_current_stream_capturing():
        torch.cuda.synchronize()  # not allowed while capturing: invalidates the capture
    return x.clone()


@_syncs_when_captured.register_fake
def _(x):
    return torch.empty_like(x)


_syncs_when_captured.register_autograd(lambda ctx, grad: grad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_a_failed_capture_falls_back_and_keeps_training_with_dropout():
    """A model whose capture fails (an op that synchronises while captured) runs uncaptured and
    says so; the next call captures again, and at the second failure CUDA graphs go off
    (``CAPTURE_ATTEMPTS``), the capture's exception kept; its dropout works throughout (the
    generator is out of capture mode)."""
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = gnn.GCNConv(8, 4)

        def forward(self, x, edge_index):
            return F.dropout(_syncs_when_captured(self.conv(x, edge_index)), 0.5, training=self.training)

    model = Model().cuda()
    compiled = gnnx.compile(model)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x, edge_index, y = _graph(*SIZES[0], "cuda")
    with pytest.warns(UserWarning, match="capture failed.*1 of 2 failures"):
        out, loss, _ = _train_step(compiled, optimizer, x, edge_index, y)
    assert compiled.cuda_graph_fallback is None and compiled.capture_failures == 1
    assert torch.isfinite(loss) and out.eq(0).any()
    with pytest.warns(UserWarning, match="CUDA graphs off .*capture failed"):
        _train_step(compiled, optimizer, x, edge_index, y)
    assert compiled.cuda_graph_fallback.startswith("capture failed") and compiled.cuda_graph_error is not None
    for _ in range(2):  # uncaptured from now on, dropout included
        out, loss, _ = _train_step(compiled, optimizer, x, edge_index, y)
        assert torch.isfinite(loss) and out.eq(0).any()  # dropout zeroed some outputs


def test_a_failed_capture_is_retried_before_cuda_graphs_go_off(monkeypatch):
    """The capture policy, on the CPU with the heterogeneous replay stubbed: a failed capture
    runs that call uncaptured and the next call captures again; CUDA graphs go off at the
    ``CAPTURE_ATTEMPTS``-th failure, and at once past the shape limit."""
    from gnnx import _compile
    from gnnx._compile_hetero import TooManyShapes

    monkeypatch.setattr(_compile, "read_call", lambda arguments: SimpleNamespace(device=torch.device("cuda")))
    outcomes = []

    def run(arguments, call, limit):
        outcome = outcomes.pop(0)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    def compiled_with(*results):
        compiled = gnnx.compile(torch.nn.Linear(2, 2))
        monkeypatch.setattr(compiled._hetero, "run", run)
        outcomes[:] = results
        return compiled

    compiled = compiled_with(RuntimeError("capture invalidated"), "replayed")
    with pytest.warns(UserWarning, match="capture failed: RuntimeError: capture invalidated .1 of 2"):
        assert compiled._replay_hetero({}) is None  # this call runs uncaptured
    assert compiled.cuda_graph_fallback is None and compiled.capture_failures == 1
    assert compiled._replay_hetero({}) == "replayed"  # captured on the next call

    compiled = compiled_with(RuntimeError("first"), RuntimeError("second"))
    for _ in range(2):
        with pytest.warns(UserWarning):
            assert compiled._replay_hetero({}) is None
    assert compiled.cuda_graph_fallback == "heterogeneous capture failed: RuntimeError: second"
    assert str(compiled.cuda_graph_error) == "second"

    compiled = compiled_with(TooManyShapes("more than 16 input shapes"))
    with pytest.warns(UserWarning, match="CUDA graphs off"):
        assert compiled._replay_hetero({}) is None
    assert compiled.cuda_graph_fallback == "more than 16 input shapes" and compiled.capture_failures == 0
