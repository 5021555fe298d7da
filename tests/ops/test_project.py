"""gnnx.ops.project: ``x @ weight.t()`` whose backward skips the zero row blocks of the output
gradient (Triton on CUDA). Values and gradients equal ATen's product on every device and dtype,
with gradients that are zero in long runs of rows (a sampled batch's outer hops), scattered
rows, NaN, no rows at all; compiled without recompiles; repeatable bit for bit."""
import pytest
import torch

from gnnx import ops
from gnnx.ops import dispatch

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])
DEVICES = ["cpu", CUDA]


@pytest.fixture(autouse=True)
def skipping_kernels_in_eager_calls_too(monkeypatch):
    """By default only compiled code takes the Triton kernels; here eager CUDA calls do too."""
    monkeypatch.setattr(dispatch, "SKIP_ZERO_GRAD_ROWS", True)
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-4), torch.float16: dict(rtol=1e-2, atol=5e-2),
             torch.bfloat16: dict(rtol=5e-2, atol=2e-1), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def _inputs(rows, out_features, in_features, dtype, device, pattern, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, in_features, generator=gen, dtype=torch.float64)
    weight = torch.randn(out_features, in_features, generator=gen, dtype=torch.float64)
    grad = torch.randn(rows, out_features, generator=gen, dtype=torch.float64)
    if pattern == "prefix":  # a sampled batch: the rows of the first hops carry gradient
        grad[rows // 5:] = 0
    elif pattern == "scattered":
        grad[torch.rand(rows, generator=gen) < 0.9] = 0
    elif pattern == "zero":
        grad.zero_()
    return (t.to(dtype=dtype, device=device) for t in (x, weight, grad))


def _grads(x, weight, grad, fn):
    x, weight = x.clone().requires_grad_(), weight.clone().requires_grad_()
    out = fn(x, weight)
    out.backward(grad)
    return out, x.grad, weight.grad


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("pattern", ["dense", "prefix", "scattered", "zero"])
@pytest.mark.parametrize("shape", [(517, 528, 128), (130, 16, 128), (64, 7, 3)])
def test_values_and_gradients_equal_atens(device, dtype, pattern, shape):
    if device == "cpu" and dtype == torch.float16:
        pytest.skip("no fp16 products on the CPU")
    x, weight, grad = _inputs(*shape, dtype, device, pattern)
    out, grad_x, grad_w = _grads(x, weight, grad, ops.project)
    expected = _grads(x.double(), weight.double(), grad.double(), lambda a, b: a @ b.t())
    for got, want in zip((out, grad_x, grad_w), expected):
        assert got.dtype == dtype
        torch.testing.assert_close(got.double(), want, **TOLERANCE[dtype])
    if pattern == "zero":
        assert not grad_x.any() and not grad_w.any()


@pytest.mark.parametrize("device", DEVICES)
def test_one_input_without_gradient(device):
    x, weight, grad = _inputs(300, 40, 24, torch.float32, device, "prefix")
    weight.requires_grad_()
    ops.project(x, weight).backward(grad)
    torch.testing.assert_close(weight.grad, grad.t() @ x, rtol=1e-5, atol=1e-4)
    x.requires_grad_()
    ops.project(x, weight.detach()).backward(grad)
    torch.testing.assert_close(x.grad, grad @ weight.detach(), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_nan_in_the_gradient_spreads_as_in_atens(device):
    x, weight, grad = _inputs(300, 40, 24, torch.float32, device, "prefix")
    grad[250, 3] = float("nan")  # in a block of otherwise zero rows
    _, grad_x, grad_w = _grads(x, weight, grad, ops.project)
    _, want_x, want_w = _grads(x, weight, grad, lambda a, b: a @ b.t())
    assert torch.equal(grad_x.isnan(), want_x.isnan()) and torch.equal(grad_w.isnan(), want_w.isnan())


@pytest.mark.parametrize("device", DEVICES)
def test_no_rows(device):
    x, weight, grad = _inputs(0, 40, 24, torch.float32, device, "dense")
    out, grad_x, grad_w = _grads(x, weight, grad, ops.project)
    assert out.shape == (0, 40) and grad_x.shape == (0, 24) and not grad_w.any()


@pytest.mark.parametrize("device", DEVICES)
def test_autocast_runs_in_the_autocast_dtype_as_mm(device):
    x, weight, grad = _inputs(200, 40, 24, torch.float32, device, "prefix")
    x.requires_grad_()
    with torch.autocast(device, dtype=torch.bfloat16):
        out = ops.project(x, weight)
        assert out.dtype == (x @ weight.t()).dtype == torch.bfloat16
    out.float().backward(grad)
    assert x.grad.dtype == torch.float32
    torch.testing.assert_close(x.grad, grad @ weight, rtol=5e-2, atol=2e-1)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"x \[N, I\] and weight \[O, I\]"):
        ops.project(torch.randn(5, 3), torch.randn(4, 2))


@pytest.mark.parametrize("device", DEVICES)
def test_compiles_without_recompiling(device):
    compiled = torch.compile(ops.project, fullgraph=True, dynamic=True)
    for i, rows in enumerate([300, 517, 1030]):
        x, weight, grad = _inputs(rows, 40, 24, torch.float32, device, "prefix", seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = _grads(x, weight, grad, compiled)
        for g, want in zip(got, (x @ weight.t(), grad @ weight, grad.t() @ x)):
            torch.testing.assert_close(g, want, rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("device", DEVICES)
def test_gradients_are_bitwise_repeatable(device):
    x, weight, grad = _inputs(4000, 132, 128, torch.float32, device, "prefix")
    first = _grads(x, weight, grad, ops.project)
    second = _grads(x, weight, grad, ops.project)
    assert all(torch.equal(a, b) for a, b in zip(first, second))


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_by_default_compiled_cuda_code_takes_the_skipping_kernels_and_eager_calls_atens(monkeypatch):
    monkeypatch.setattr(dispatch, "SKIP_ZERO_GRAD_ROWS", None)
    assert dispatch.cuda_matmul_kernels() is None  # eager

    def picks_kernels(x):  # the dispatch's choice, read while Dynamo traces
        return x + (1.0 if dispatch.cuda_matmul_kernels() is not None else 0.0)

    assert torch.compile(picks_kernels, fullgraph=True)(torch.zeros(1, device="cuda")).item() == 1.0
    x, weight, grad = _inputs(300, 40, 24, torch.float32, "cuda", "prefix")
    got = _grads(x, weight, grad, torch.compile(ops.project, fullgraph=True, dynamic=True))
    for g, want in zip(got, (x @ weight.t(), grad @ weight, grad.t() @ x)):
        torch.testing.assert_close(g, want, rtol=1e-5, atol=1e-4)
