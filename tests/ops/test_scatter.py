"""The reference ops against direct loops, gradcheck in float64, and their edge cases."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from gnnx import ops


def loop_scatter(src, index, dim_size, reduce):
    out = torch.zeros((dim_size,) + src.shape[1:], dtype=src.dtype)
    for i in range(dim_size):
        rows = src[index == i]
        if len(rows):
            out[i] = {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.amax(0), "min": rows.amin(0)}[reduce]
    return out


@given(
    num_edges=st.integers(0, 40),
    dim_size=st.integers(1, 12),
    reduce=st.sampled_from(ops.REDUCTIONS),
    seed=st.integers(0, 2**16),
)
@settings(max_examples=60, deadline=None)
def test_scatter_matches_loop(num_edges, dim_size, reduce, seed):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randn(num_edges, 3, generator=gen, dtype=torch.float64)
    index = torch.randint(dim_size, (num_edges,), generator=gen)
    torch.testing.assert_close(ops.scatter(src, index, dim_size, reduce), loop_scatter(src, index, dim_size, reduce))


def test_empty_segments_are_zero():
    src = torch.tensor([[-5.0], [-3.0]])
    for reduce in ops.REDUCTIONS:
        out = ops.scatter(src, torch.tensor([2, 2]), 4, reduce)
        assert out[[0, 1, 3]].eq(0).all(), reduce


@pytest.mark.parametrize("reduce", ops.REDUCTIONS)
def test_scatter_gradcheck(reduce):
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(20, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    index = torch.randint(6, (20,), generator=gen)
    assert torch.autograd.gradcheck(lambda s: ops.scatter(s, index, 7, reduce), (src,))


def test_max_gradient_goes_to_the_argmax():
    src = torch.tensor([1.0, 4.0, 2.0, 7.0], requires_grad=True)
    ops.scatter(src, torch.tensor([0, 0, 1, 1]), 2, "max").sum().backward()
    assert src.grad.tolist() == [0.0, 1.0, 0.0, 1.0]


def test_scatter_along_other_dim():
    src = torch.randn(2, 5, 3)
    index = torch.tensor([0, 1, 1, 3, 0])
    expected = ops.scatter(src.transpose(0, 1), index, 4, "sum").transpose(0, 1)
    torch.testing.assert_close(ops.scatter(src, index, 4, "sum", dim=1), expected)


def test_segment_softmax_sums_to_one_and_gradchecks():
    gen = torch.Generator().manual_seed(0)
    src = torch.randn(30, 2, generator=gen, dtype=torch.float64, requires_grad=True)
    index = torch.randint(5, (30,), generator=gen)
    out = ops.segment_softmax(src, index, 7)
    sums = ops.scatter(out, index, 7, "sum")
    present = torch.bincount(index, minlength=7) > 0
    torch.testing.assert_close(sums[present], torch.ones_like(sums[present]))
    assert torch.autograd.gradcheck(lambda s: ops.segment_softmax(s, index, 7), (src,))


def test_segment_softmax_ignores_minus_inf():
    src = torch.tensor([0.0, float("-inf"), 1.0])
    out = ops.segment_softmax(src, torch.tensor([0, 0, 0]), 1)
    assert out[1] == 0 and torch.isclose(out.sum(), torch.tensor(1.0))


def test_unknown_reduction_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown reduction 'median'"):
        ops.scatter(torch.ones(2), torch.tensor([0, 1]), 2, "median")


def test_eager_cpu_scatter_names_an_index_outside_the_slots():
    from gnnx.ops import scatter

    with pytest.raises(ValueError, match="index holds 5, outside the 2 output slots"):
        scatter(torch.ones(3, 2), torch.tensor([0, 5, 1]), 2)
    with pytest.raises(ValueError, match="index holds -1"):
        scatter(torch.ones(3, 2), torch.tensor([0, -1, 1]), 1, "mean")  # the one-slot shortcut too


@pytest.mark.parametrize("device", ["cpu", pytest.param("cuda", marks=[
    pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")])])
@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_half_precision_sums_accumulate_in_fp32(dtype, reduce, device):
    """A half-precision sum stops growing once the increments fall below its spacing (bf16:
    256 + 1 == 256, as CUDA's atomics add); gnnx sums in fp32 and returns the input's dtype."""
    src = torch.ones(1000, 3, dtype=dtype, device=device)
    index = torch.zeros(1000, dtype=torch.long, device=device)
    index[-1] = 1
    out = ops.scatter(src, index, 2, reduce)
    assert out.dtype == dtype
    expected = torch.tensor([[999.0] * 3, [1.0] * 3]) if reduce == "sum" else torch.ones(2, 3)
    assert torch.equal(out.float().cpu(), expected.to(dtype).float())
