"""SpMM: every dispatch path equals the reference, forward and backward."""
import pytest
import torch

import gnnx
from gnnx import ops


def _inputs(seed=0, n=30, e=120, f=5):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, f, generator=gen, dtype=torch.float64)
    edge_index = torch.randint(n, (2, e), generator=gen)
    edge_weight = torch.rand(e, generator=gen, dtype=torch.float64)
    return x, edge_index, edge_weight


@pytest.mark.parametrize("reduce", ops.REDUCTIONS)
def test_reference_gradcheck(reduce):
    x, edge_index, edge_weight = _inputs(n=8, e=20)
    x.requires_grad_()
    edge_weight.requires_grad_()
    assert torch.autograd.gradcheck(
        lambda a, w: ops.spmm_reference(a, edge_index, 8, w, reduce), (x, edge_weight)
    )


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("weighted", [False, True])
def test_csr_fast_path_equals_reference(reduce, weighted):
    x, edge_index, edge_weight = _inputs()
    edge_weight = edge_weight if weighted else None
    csr = gnnx.Graph(edge_index, 30).csr
    x1 = x.clone().requires_grad_()
    x2 = x.clone().requires_grad_()
    fast = ops.spmm(x1, edge_index, 30, edge_weight, reduce, csr=csr)
    ref = ops.spmm_reference(x2, edge_index, 30, edge_weight, reduce)
    assert fast.grad_fn is not None and "SparseMatmul" in fast.grad_fn.name()  # the eager MKL path ran
    torch.testing.assert_close(fast, ref)
    grad = torch.randn_like(ref)
    fast.backward(grad)
    ref.backward(grad)
    torch.testing.assert_close(x1.grad, x2.grad)


def test_cached_csr_values_follow_reduce_dtype_and_structure():
    """Eager unweighted calls reuse a structure's CSR values; each reduce, dtype and graph
    gets its own, and weighted calls never read the cache."""
    x, edge_index, edge_weight = _inputs()
    graph = gnnx.Graph(edge_index, 30)
    for _ in range(2):  # second round: cached values
        for reduce in ("sum", "mean"):
            for dtype in (torch.float64, torch.float32):
                got = ops.spmm(x.to(dtype), edge_index, 30, None, reduce, csr=graph.csr)
                torch.testing.assert_close(got, ops.spmm_reference(x.to(dtype), edge_index, 30, None, reduce))
        weighted = ops.spmm(x, edge_index, 30, edge_weight, "sum", csr=graph.csr)
        torch.testing.assert_close(weighted, ops.spmm_reference(x, edge_index, 30, edge_weight, "sum"))
    other = gnnx.Graph(edge_index.flip(0), 30)
    torch.testing.assert_close(ops.spmm(x, other.edge_index, 30, None, "mean", csr=other.csr),
                               ops.spmm_reference(x, other.edge_index, 30, None, "mean"))


def test_per_head_weights():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(6, 2, 3, generator=gen)
    edge_index = torch.randint(6, (2, 15), generator=gen)
    alpha = torch.rand(15, 2, generator=gen)
    out = ops.spmm(x, edge_index, 6, alpha)
    expected = torch.zeros(6, 2, 3)
    for e in range(15):
        expected[edge_index[1, e]] += alpha[e].view(2, 1) * x[edge_index[0, e]]
    torch.testing.assert_close(out, expected)


def _heads_inputs(heads, weights):
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(12, heads, 3, generator=gen, dtype=torch.float64)
    edge_index = torch.randint(12, (2, 40), generator=gen)
    edge_index[:, :3] = torch.tensor([[0, 0, 5], [1, 1, 1]])  # a repeated edge; some nodes get none
    shape = {"per head": (40, heads), "shared": (40,), "none": None}[weights]
    weight = None if shape is None else torch.rand(*shape, generator=gen, dtype=torch.float64)
    return x, edge_index, weight


@pytest.mark.parametrize("heads", [1, 3])
@pytest.mark.parametrize("weights", ["per head", "shared", "none"])
def test_mkl_takes_heads_and_weights_that_need_a_gradient(heads, weights):
    """Graph attention's weighted sum on the CPU: ``[N, heads, F]`` features with per-head
    (or shared) weights that need a gradient run through MKL, eager and compiled, with the
    reference's values and gradients (the weights' through the sampled products)."""
    x, edge_index, weight = _heads_inputs(heads, weights)
    csr = gnnx.Graph(edge_index, 12).csr
    assert gnnx.ops.dispatch.spmm_kernel(x, csr, weight, "sum") == "mkl"
    leaves = [x] + ([weight] if weight is not None else [])
    expected_leaves = [t.clone().requires_grad_() for t in leaves]
    expected = ops.spmm_reference(expected_leaves[0], edge_index, 12, *expected_leaves[1:])
    grad = torch.randn_like(expected)
    wanted = torch.autograd.grad(expected, expected_leaves, grad)

    def fast(x, *weight):
        return ops.spmm(x, edge_index, 12, *weight, csr=csr)

    for run in (fast, torch.compile(fast, fullgraph=True, dynamic=True)):
        got_leaves = [t.clone().requires_grad_() for t in leaves]
        out = run(*got_leaves)
        torch.testing.assert_close(out, expected)
        for got_grad, want in zip(torch.autograd.grad(out, got_leaves, grad), wanted):
            torch.testing.assert_close(got_grad, want)
    assert torch.autograd.gradcheck(fast, [t.clone().requires_grad_() for t in leaves])


def test_mkl_leaves_per_head_means_and_exports_to_the_reference():
    """Per-head weights with ``mean`` keep the reference (MKL's values would need the in-degree
    per head); ``torch.export`` keeps the reference whatever the weights."""
    x, edge_index, weight = _heads_inputs(2, "per head")
    csr = gnnx.Graph(edge_index, 12).csr
    assert gnnx.ops.dispatch.spmm_kernel(x, csr, weight, "mean") == "reference"
    torch.testing.assert_close(ops.spmm(x, edge_index, 12, weight, "mean", csr=csr),
                               ops.spmm_reference(x, edge_index, 12, weight, "mean"))

    class Aggregate(torch.nn.Module):
        def forward(self, x, edge_index, weight):
            return ops.spmm(x, edge_index, 12, weight)

    program = torch.export.export(Aggregate(), (x, edge_index, weight))
    assert "csr_spmm_cpu" not in str(program.graph)
    torch.testing.assert_close(program.module()(x, edge_index, weight), ops.spmm_reference(x, edge_index, 12, weight))


@pytest.mark.parametrize("traced", [False, True])
def test_mkl_product_has_second_derivatives(traced):
    """Gradient penalties differentiate the backward: MKL's product with learnt weights over
    repeated edges (the eager ``autograd.Function`` and the op traced code calls) gives second
    derivatives, with the transposed product's own row indices."""
    import sys

    spmm = sys.modules["gnnx.ops.spmm"]  # (gnnx.ops.spmm is also the function's name)
    x, edge_index, edge_weight = _inputs(n=8, e=40)
    edge_index[:, 20:30] = edge_index[:, :10]  # repeated edges
    csr = gnnx.graph.build_csr(edge_index, 8, 8)
    matmul = spmm.csr_spmm_cpu if traced else spmm._EagerSparseMatmul.apply

    def product(w, a):
        values, values_t = w.index_select(0, csr.perm), w.index_select(0, csr.perm_t)
        return matmul(csr.rowptr, csr.col, csr.row, values, a, csr.rowptr_t, csr.col_t, values_t)

    inputs = (edge_weight.requires_grad_(), x.requires_grad_())
    assert torch.autograd.gradgradcheck(product, inputs)


def test_gat_gradient_penalty_on_the_cpu_equals_the_reference(monkeypatch):
    """A gradient penalty through GATConv's eager CPU path (MKL from the second call, once the
    structure is cached) equals the reference ops'."""
    from gnnx.ops import dispatch

    gen = torch.Generator().manual_seed(1)
    x = torch.randn(60, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    edge_index = torch.randint(60, (2, 400), generator=gen)
    conv = gnnx.nn.GATConv(8, 4, heads=2).double()

    def penalty_grads():
        conv(x, edge_index)
        out = conv(x, edge_index)
        grad_x, = torch.autograd.grad(out.square().sum(), x, create_graph=True)
        return torch.autograd.grad(grad_x.square().sum(), [x, *conv.parameters()])

    got = penalty_grads()
    monkeypatch.setattr(dispatch, "uses_csr", lambda device: False)
    for mine, reference in zip(got, penalty_grads()):
        torch.testing.assert_close(mine, reference)
