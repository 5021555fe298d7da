"""HeteroConv can run bipartite GATConv relations grouped (gnnx/nn/hetero_gat.py): one GEMM per
source and per destination type and one attention op per destination type, equal to the
per-relation layers (values, gradients), compiled without recompiles, PyG's results kept."""
import pytest
import torch

from gnnx import nn, ops
from gnnx.nn import hetero_gat

EDGE_TYPES = [("paper", "cites", "paper"), ("author", "writes", "paper"), ("paper", "rev_writes", "author"),
              ("inst", "hosts", "author"), ("author", "rev_hosts", "inst")]


def _graph(papers, authors, insts, edges, seed=0, widths=(8, 6, 4)):
    gen = torch.Generator().manual_seed(seed)
    x = {"paper": torch.randn(papers, widths[0], generator=gen), "author": torch.randn(authors, widths[1], generator=gen),
         "inst": torch.randn(insts, widths[2], generator=gen)}
    sizes = {k: v.size(0) for k, v in x.items()}
    edge_index = {et: torch.stack([torch.randint(0, sizes[et[0]], (edges,), generator=gen),
                                   torch.randint(0, sizes[et[2]], (edges,), generator=gen)]) for et in EDGE_TYPES}
    return x, edge_index


@pytest.fixture(autouse=True)
def grouping_on(monkeypatch):
    monkeypatch.setattr(hetero_gat, "ENABLED", True)


def _model(heads=4, widths=(8, 6, 4), **kwargs):
    torch.manual_seed(0)
    conv = nn.HeteroConv({et: nn.GATConv((-1, -1), 16, heads=heads, add_self_loops=False, **kwargs)
                          for et in EDGE_TYPES})
    with torch.no_grad():
        conv(*_graph(10, 7, 3, 20, widths=widths))  # lazy widths
    return conv


def _per_relation(conv, *inputs, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(hetero_gat, "grouped_gat", lambda *args: None)
        return conv(*inputs)


def _spy_attention(monkeypatch):
    calls = []
    real = ops.attention

    def spy(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(ops, "attention", spy)
    return calls


@pytest.mark.parametrize("heads", [1, 4])
def test_grouped_equals_per_relation_with_one_attention_op_per_destination_type(heads, monkeypatch):
    conv = _model(heads)
    x, edge_index = _graph(40, 25, 6, 90, seed=1)
    del edge_index[("inst", "hosts", "author")]  # a relation absent from the batch
    expected = _per_relation(conv, x, edge_index, monkeypatch=monkeypatch)
    calls = _spy_attention(monkeypatch)
    got = conv(x, edge_index)
    assert len(calls) == 3  # paper, author, inst: not one per relation
    assert set(got) == set(expected)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6)
    params = list(conv.parameters())
    grads = torch.autograd.grad(sum((v * v).sum() for v in got.values()), params, allow_unused=True)
    monkeypatch.undo()
    ref = _per_relation(conv, x, edge_index, monkeypatch=monkeypatch)
    ref_grads = torch.autograd.grad(sum((v * v).sum() for v in ref.values()), params, allow_unused=True)
    for g, r in zip(grads, ref_grads):
        assert (g is None) == (r is None)
        if g is not None:
            torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-5)


def test_calls_the_grouping_does_not_cover_run_per_relation(monkeypatch):
    conv = _model(dropout=0.5)
    x, edge_index = _graph(20, 10, 4, 40)
    assert hetero_gat.grouped_gat(conv.convs, conv.aggr, x, edge_index) is None  # attention dropout in training
    conv.eval()
    assert hetero_gat.grouped_gat(conv.convs, conv.aggr, x, edge_index) is not None
    assert hetero_gat.grouped_gat(conv.convs, "mean", x, edge_index) is None
    x.pop("inst")
    assert hetero_gat.grouped_gat(conv.convs, conv.aggr, x, edge_index) is None


def test_grouped_compiles_without_recompiling():
    conv = _model().eval()
    torch._dynamo.reset()
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 5, 50), (33, 7, 4, 90), (57, 25, 9, 31)]):
        inputs = _graph(*sizes, seed=i)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(*inputs)
            expected = conv(*inputs)
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


def test_grouped_rgat_layer_equals_pyg():
    """MLPerf's R-GAT layer (HeteroConv of GATConv((-1, -1), ..., add_self_loops=False))."""
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    ours = _model()
    theirs = pyg_nn.HeteroConv({et: pyg_nn.GATConv((-1, -1), 16, heads=4, add_self_loops=False)
                                for et in EDGE_TYPES})
    x, edge_index = _graph(40, 25, 6, 90, seed=2)
    with torch.no_grad():
        theirs(x, edge_index)
    theirs.load_state_dict(ours.state_dict())
    expected, got = theirs(x, edge_index), ours(x, edge_index)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-5)


def test_by_default_grouped_on_cuda_only(monkeypatch):
    monkeypatch.setattr(hetero_gat, "ENABLED", None)
    conv = _model()
    x, edge_index = _graph(20, 10, 4, 40)
    assert hetero_gat.grouped_gat(conv.convs, conv.aggr, x, edge_index) is None  # CPU: per relation
    calls = _spy_attention(monkeypatch)
    conv(x, edge_index)
    assert len(calls) == len(EDGE_TYPES)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_grouped_by_default_on_cuda_equals_per_relation_and_compiles(monkeypatch):
    monkeypatch.setattr(hetero_gat, "ENABLED", None)
    conv = _model().cuda()

    def on_cuda(inputs):
        return tuple({k: v.cuda() for k, v in d.items()} for d in inputs)

    x, edge_index = on_cuda(_graph(40, 25, 6, 90, seed=1))
    expected = _per_relation(conv, x, edge_index, monkeypatch=monkeypatch)
    calls = _spy_attention(monkeypatch)
    got = conv(x, edge_index)
    assert len(calls) == 3
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)
    monkeypatch.undo()  # the spy would put its call count in the compiled graph's guards
    monkeypatch.setattr(hetero_gat, "ENABLED", None)
    torch._dynamo.reset()
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 5, 50), (33, 7, 4, 90), (57, 25, 9, 31)]):
        inputs = on_cuda(_graph(*sizes, seed=i))
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            out = compiled(*inputs)
        reference = _per_relation(conv, *inputs, monkeypatch=monkeypatch)
        for key in reference:
            torch.testing.assert_close(out[key], reference[key], rtol=1e-4, atol=1e-5)
        sum(v.sum() for v in out.values()).backward()


SAME = (12, 12, 12)  # one width for every node type: the aggregate-then-project layout


def _sampled_like(papers, authors, insts, edges, seed=0, device="cpu"):
    """Inputs whose destinations are the first rows of each type (a sampled mini-batch's
    layout: later hops are only sources), so most row blocks have no incoming edges."""
    x, edge_index = _graph(papers, authors, insts, edges, seed=seed, widths=SAME)
    sizes = {k: v.size(0) for k, v in x.items()}
    for et, ei in edge_index.items():
        ei[1] = ei[1] % max(1, sizes[et[2]] // 4)
    return ({k: v.to(device) for k, v in x.items()}, {k: v.to(device) for k, v in edge_index.items()})


def _values_and_grads(conv, x, edge_index):
    x = {k: v.detach().requires_grad_(True) for k, v in x.items()}
    out = conv(x, edge_index)
    loss = sum((v * torch.linspace(-1, 1, v.numel(), device=v.device).view_as(v)).sum() for v in out.values())
    params = [p for p in conv.parameters()]
    grads = torch.autograd.grad(loss, params + list(x.values()), allow_unused=True)
    return out, grads


def _assert_same(got, expected, rtol=1e-4, atol=1e-5):
    (out, grads), (ref, ref_grads) = got, expected
    assert set(out) == set(ref)
    for key in ref:
        torch.testing.assert_close(out[key], ref[key], rtol=rtol, atol=atol)
    for g, r in zip(grads, ref_grads):
        assert (g is None) == (r is None)
        if g is not None:
            torch.testing.assert_close(g, r, rtol=rtol, atol=atol)


@pytest.mark.parametrize("heads", [1, 4])
def test_aggregate_then_project_equals_per_relation(heads, monkeypatch):
    """The projection behind the sum (gnnx.ops.aggregate_project; its ATen reference here)."""
    monkeypatch.setattr(hetero_gat, "LATE_PROJECTION", True)
    conv = _model(heads, widths=SAME)
    x, edge_index = _sampled_like(40, 25, 6, 90, seed=1)
    del edge_index[("inst", "hosts", "author")]
    calls = []
    monkeypatch.setattr(hetero_gat, "aggregate_project", lambda *a: calls.append(1) or ops.aggregate_project(*a))
    got = _values_and_grads(conv, x, edge_index)
    assert calls == [1]  # one op for every relation
    _assert_same(got, _values_and_grads_per_relation(conv, x, edge_index, monkeypatch))


def _values_and_grads_per_relation(conv, x, edge_index, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(hetero_gat, "grouped_gat", lambda *args: None)
        return _values_and_grads(conv, x, edge_index)


def test_aggregate_then_project_needs_one_width(monkeypatch):
    monkeypatch.setattr(hetero_gat, "LATE_PROJECTION", True)
    conv = _model()
    x, edge_index = _graph(20, 10, 4, 40)
    relations = list(conv.convs.items())
    assert not hetero_gat._late_projection_applies(relations, x)  # widths 8, 6, 4: project first
    same = _model(widths=SAME)
    assert hetero_gat._late_projection_applies(list(same.convs.items()), _sampled_like(20, 10, 4, 40)[0])
    monkeypatch.setattr(hetero_gat, "LATE_PROJECTION", None)
    assert not hetero_gat._late_projection_applies(list(same.convs.items()), _sampled_like(20, 10, 4, 40)[0])


def test_aggregate_then_project_compiles_without_recompiling(monkeypatch):
    monkeypatch.setattr(hetero_gat, "LATE_PROJECTION", True)
    conv = _model(widths=SAME).eval()
    torch._dynamo.reset()
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 5, 50), (33, 7, 4, 90), (57, 25, 9, 31)]):
        inputs = _sampled_like(*sizes, seed=i)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(*inputs)
            expected = conv(*inputs)
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("heads", [1, 4])
def test_aggregate_then_project_kernels_on_cuda(heads, monkeypatch):
    """By default on CUDA (fp32, one width): the Triton kernels, equal to the per-relation
    layers in values and gradients, eager and compiled (no recompiles)."""
    monkeypatch.setattr(hetero_gat, "ENABLED", None)
    conv = _model(heads, widths=SAME).cuda()
    x, edge_index = _sampled_like(300, 200, 40, 900, seed=1, device="cuda")
    relations = [(et, c) for et, c in conv.convs.items() if et in edge_index]
    assert hetero_gat._late_projection_applies(relations, x)
    got = _values_and_grads(conv, x, edge_index)
    _assert_same(got, _values_and_grads_per_relation(conv, x, edge_index, monkeypatch))
    torch._dynamo.reset()
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(120, 110, 50, 500), (330, 70, 40, 900), (570, 250, 90, 310)]):
        inputs = _sampled_like(*sizes, seed=i, device="cuda")
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            out = _values_and_grads(compiled, *inputs)
        _assert_same(out, _values_and_grads_per_relation(conv, *inputs, monkeypatch))
