"""HeteroConv can run bipartite GATConv relations grouped (gnnx/nn/hetero_gat.py): one GEMM per
source and per destination type and one attention op per layer, equal to the
per-relation layers (values, gradients), compiled without recompiles, PyG's results kept."""
import pytest
import torch

from gnnx import nn, ops
from gnnx.nn import hetero_gat
from gnnx.ops import dispatch

EDGE_TYPES = [("paper", "cites", "paper"), ("author", "writes", "paper"), ("paper", "rev_writes", "author"),
              ("inst", "hosts", "author"), ("author", "rev_hosts", "inst")]


def _graph(papers, authors, insts, edges, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = {"paper": torch.randn(papers, 8, generator=gen), "author": torch.randn(authors, 6, generator=gen),
         "inst": torch.randn(insts, 4, generator=gen)}
    sizes = {k: v.size(0) for k, v in x.items()}
    edge_index = {et: torch.stack([torch.randint(0, sizes[et[0]], (edges,), generator=gen),
                                   torch.randint(0, sizes[et[2]], (edges,), generator=gen)]) for et in EDGE_TYPES}
    return x, edge_index


@pytest.fixture(autouse=True, params=["node tables", "compact rows"])
def grouping_on(request, monkeypatch):
    """Every test runs over both layouts of the projections: one product per node type over
    all its rows and relations, and gnnx.ops.grouped_project over the pairs the edges use."""
    monkeypatch.setattr(hetero_gat, "ENABLED", True)
    monkeypatch.setattr(hetero_gat, "COMPACT_ROWS", request.param == "compact rows")


def _model(heads=4, **kwargs):
    torch.manual_seed(0)
    conv = nn.HeteroConv({et: nn.GATConv((-1, -1), 16, heads=heads, add_self_loops=False, **kwargs)
                          for et in EDGE_TYPES})
    with torch.no_grad():
        conv(*_graph(10, 7, 3, 20))  # lazy widths
    return conv


def _per_relation(conv, *inputs, monkeypatch):
    with monkeypatch.context() as patch:
        patch.setattr(hetero_gat, "grouped_gat", lambda *args: None)
        return conv(*inputs)


def _spy_attention(monkeypatch):
    """Counts the attention calls: the grouped path's one per layer, or ops.attention (each
    relation's GATConv)."""
    calls = []
    for owner, name in ((hetero_gat, "relation_attention"), (ops, "attention")):
        real = getattr(owner, name)

        def spy(*args, real=real, **kwargs):
            calls.append(1)
            return real(*args, **kwargs)

        monkeypatch.setattr(owner, name, spy)
    return calls


# Absent from the batch: no relation; one that leaves "inst" a destination only (its
# destination scores get a product of their own); one that leaves "paper" receiving more
# relations than it sends (the same); otherwise each type's destination scores share its
# source table's product.
@pytest.mark.parametrize("absent", [None, ("inst", "hosts", "author"), ("paper", "rev_writes", "author")])
@pytest.mark.parametrize("heads", [1, 4])
def test_grouped_equals_per_relation_with_one_attention_op_per_layer(heads, absent, monkeypatch):
    conv = _model(heads)
    x, edge_index = _graph(40, 25, 6, 90, seed=1)
    if absent is not None:
        del edge_index[absent]
    expected = _per_relation(conv, x, edge_index, monkeypatch=monkeypatch)
    calls = _spy_attention(monkeypatch)
    got = conv(x, edge_index)
    assert len(calls) == 1  # one segment space for all relations and node types
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


def test_grouped_with_a_node_type_trimmed_to_no_nodes(monkeypatch):
    """trim_to_layer can leave a node type without rows (and its relations without edges);
    "inst" sends and receives, so its empty source table also holds destination scores."""
    conv = _model()
    x, edge_index = _graph(30, 12, 5, 40, seed=3)
    x["inst"] = x["inst"][:0]
    for edge_type in (("inst", "hosts", "author"), ("author", "rev_hosts", "inst")):
        edge_index[edge_type] = edge_index[edge_type][:, :0]
    got = conv(x, edge_index)
    expected = _per_relation(conv, x, edge_index, monkeypatch=monkeypatch)
    for key in expected:
        torch.testing.assert_close(got[key], expected[key], rtol=1e-5, atol=1e-6)
    assert got["inst"].shape == (0, 64)
    sum(v.sum() for v in got.values()).backward()


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
    assert len(calls) == 1
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


def trimmed_layer(conv):
    """``conv`` over inputs narrowed by per-type counts ``keep`` (MLPerf's trimmed layers)."""
    def trimmed(x, edge_index, keep):
        x = {k: v[:keep[k]] for k, v in x.items()}
        edge_index = {k: v[:, :keep[k]] for k, v in edge_index.items()}
        return conv(x, edge_index)
    return trimmed


def trimmed_batches(device: str):
    """``(i, x, edge_index, keep)`` at three sizes; the second trims the "inst" type and its
    relations to nothing (a second compiled graph)."""
    for i, (papers, authors, insts) in enumerate([(60, 30, 8), (90, 41, 12), (75, 52, 9)]):
        x, edge_index = _graph(papers + 5, authors + 4, insts + 3, 120, seed=i)
        # edges whose ends survive the cut, as trim_to_layer's hop order guarantees
        edge_index = {k: torch.stack([v[0] % {"paper": papers, "author": authors, "inst": insts}[k[0]],
                                      v[1] % {"paper": papers, "author": authors, "inst": insts}[k[2]]])
                      for k, v in edge_index.items()}
        keep = {"paper": papers, "author": authors, "inst": insts if i != 1 else 0}  # 0: a second graph
        keep.update({k: 100 - 10 * i if "inst" not in k or i != 1 else 0 for k in edge_index})
        x = {k: v.to(device).requires_grad_() for k, v in x.items()}
        edge_index = {k: v.to(device) for k, v in edge_index.items()}
        yield i, x, edge_index, keep


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_grouped_trains_compiled_on_cuda_with_trimmed_inputs(monkeypatch):
    """MLPerf's trimmed layers: inputs narrowed by per-hop counts (sizes that are sums and
    differences of symbols when compiled), a type trimmed to no rows; one compiled graph
    (``bench/trimmed_recompiles_on_cpu.py`` checks the same on a machine without a GPU)."""
    monkeypatch.setattr(hetero_gat, "ENABLED", None)
    conv = _model().cuda()
    torch._dynamo.reset()
    compiled = torch.compile(trimmed_layer(conv), fullgraph=True, dynamic=True)
    for i, x, edge_index, keep in trimmed_batches("cuda"):
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, edge_index, keep)
        expected = _per_relation(conv, {k: v[:keep[k]] for k, v in x.items()},
                                 {k: v[:, :keep[k]] for k, v in edge_index.items()}, monkeypatch=monkeypatch)
        for key in expected:
            torch.testing.assert_close(got[key], expected[key], rtol=1e-4, atol=1e-5)
        grads = torch.autograd.grad(sum(v.square().sum() for v in got.values()), list(conv.parameters()))
        expected_grads = torch.autograd.grad(sum(v.square().sum() for v in expected.values()), list(conv.parameters()))
        for a, b in zip(grads, expected_grads):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


def test_grouped_names_a_node_type_of_the_wrong_width():
    conv = _model()
    x, edge_index = _graph(20, 10, 4, 40)
    x["author"] = torch.randn(10, 5)  # the layers take 6 features per author
    with pytest.raises(ValueError, match=r"takes 6 features per 'author' node, got x_dict\['author'\] of shape \[10, 5\]"):
        conv(x, edge_index)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("rows_with_gradient", [3, 1000])
def test_grouped_gradients_on_cuda_equal_per_relation_when_few_rows_get_one(rows_with_gradient, monkeypatch):
    """A loss over the first rows only (a sampled batch's seeds): the grouped projections'
    backward skips the rows without gradient (gnnx.ops.project) and still equals the
    per-relation layers' gradients, parameters and inputs."""
    monkeypatch.setattr(dispatch, "SKIP_ZERO_GRAD_ROWS", True)  # default: in compiled code only
    conv = _model().cuda()
    x, edge_index = _graph(700, 300, 40, 2000, seed=3)
    x = {k: v.cuda().requires_grad_() for k, v in x.items()}
    edge_index = {k: v.cuda() for k, v in edge_index.items()}

    def gradients(run):
        conv.zero_grad()
        for v in x.values():
            v.grad = None
        out = run()
        sum(v[:rows_with_gradient].square().sum() for v in out.values()).backward()
        return [p.grad.clone() for p in conv.parameters()] + [x[k].grad.clone() for k in sorted(x)]

    expected = gradients(lambda: _per_relation(conv, x, edge_index, monkeypatch=monkeypatch))
    got = gradients(lambda: conv(x, edge_index))
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)  # fp32 through 3 products, summed


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[
    pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
def test_grouped_second_derivatives_equal_per_relation(device, monkeypatch):
    """A gradient penalty (``create_graph=True``) through the grouped layer (on CUDA its Triton
    projections, gathers and adds, whose own backward passes are first-order) equals the
    per-relation layers' (gnnx.ops.second_order)."""
    monkeypatch.setattr(dispatch, "SKIP_ZERO_GRAD_ROWS", True)  # the Triton products in eager calls too
    conv = _model().to(device)
    x, edge_index = _graph(70, 30, 8, 150, seed=4)
    edge_index = {k: v.to(device) for k, v in edge_index.items()}

    def penalty_gradients(run):
        inputs = {k: v.to(device).requires_grad_() for k, v in x.items()}
        out = run(inputs)
        loss = sum((v * torch.linspace(-1, 1, v.numel(), device=device).view_as(v)).sum() for v in out.values())
        first = torch.autograd.grad(loss, list(inputs.values()), create_graph=True)
        wrt = list(conv.parameters()) + list(inputs.values())
        penalty = sum((g ** 2).sum() for g in first)
        return torch.autograd.grad(penalty, wrt, allow_unused=True)

    expected = penalty_gradients(lambda inputs: _per_relation(conv, inputs, edge_index, monkeypatch=monkeypatch))
    got = penalty_gradients(lambda inputs: conv(inputs, edge_index))
    for a, b in zip(got, expected):
        assert (a is None) == (b is None)
        if a is not None:
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("grouped", [True, False])
def test_int32_edge_indices_give_the_int64_result(grouped, monkeypatch):
    monkeypatch.setattr(hetero_gat, "ENABLED", grouped)
    conv = _model()
    x, edge_index = _graph(30, 20, 5, 60, seed=4)
    expected = conv(x, edge_index)
    got = conv(x, {k: v.int() for k, v in edge_index.items()})
    for key in expected:
        torch.testing.assert_close(got[key], expected[key])
