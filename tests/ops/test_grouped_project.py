"""gnnx.ops.row_groups and gnnx.ops.grouped_project: one projection per group of rows, only
over the rows each group uses (Triton on CUDA). The groups list each index's distinct rows;
values and gradients equal a dense per-group product (with score-only groups, empty groups,
groups using every row, fp16/bf16); compiled without recompiles; repeatable bit for bit."""
import pytest
import torch

from gnnx import ops
from gnnx.ops.grouped_projection import ROW_ALIGN, grouped_project_reference

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])
DEVICES = ["cpu", CUDA]
TOLERANCE = {torch.float32: dict(rtol=1e-5, atol=1e-4), torch.float16: dict(rtol=1e-2, atol=5e-2),
             torch.bfloat16: dict(rtol=5e-2, atol=2e-1), torch.float64: dict(rtol=1e-12, atol=1e-12)}


def _indices(num_rows, sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return [torch.randint(0, max(num_rows, 1), (size,), generator=gen) if size >= 0 else torch.arange(num_rows)
            for size in sizes]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("num_rows,sizes", [(10, [4, 0, 30]), (300, [-1, 50, 1]), (0, [0, 0]), (5000, [9000, 3])])
def test_row_groups_list_each_groups_distinct_rows(num_rows, sizes, device):
    indices = [index.to(device, torch.int32 if g % 2 else torch.long) for g, index in
               enumerate(_indices(num_rows, sizes))]  # int32 or int64 edge indices alike
    groups = ops.row_groups(indices, num_rows)
    groups, indices = groups._replace(rows=groups.rows.cpu(), counts=groups.counts.cpu(),
                                      slot_of=groups.slot_of.cpu()), [index.cpu().long() for index in indices]
    assert groups.stride % ROW_ALIGN == 0 and groups.stride > num_rows
    assert groups.rows.shape == (len(sizes), groups.stride) and groups.slot_of.shape == (len(sizes), num_rows)
    for g, index in enumerate(indices):
        distinct = torch.unique(index)  # sorted
        assert int(groups.counts[g]) == distinct.numel()
        assert torch.equal(groups.rows[g, :distinct.numel()], distinct)
        expected = torch.full((num_rows,), -1)
        expected[distinct] = g * groups.stride + torch.arange(distinct.numel())
        assert torch.equal(groups.slot_of[g], expected)


@pytest.mark.parametrize("indices,message", [
    ([torch.tensor([0, 5])], "group 0's indices holds 5, outside the 5 rows"),
    ([torch.tensor([1]), torch.tensor([-1])], "group 1's indices holds -1"),
    ([torch.tensor([[1]])], "1-D int32 or int64"),
    ([torch.tensor([1.0])], "1-D int32 or int64"),
    ([], "at least one group"),
])
def test_row_groups_names_bad_indices(indices, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        ops.row_groups(indices, 5)


@pytest.mark.parametrize("device", DEVICES)
def test_add_rows_in_use_sums_into_the_rows_in_use(device):
    """The gradient of a grouped_project output from gathers of its rows: the rows in use hold
    index_add's sums (from strided parts as well); the others are unspecified on CUDA."""
    from gnnx.ops.grouped_projection import add_rows_in_use
    gen = torch.Generator().manual_seed(3)
    groups = ops.row_groups([i.to(device) for i in _indices(300, [500, 0, 40, 700], seed=4)], 300)
    used = torch.cat([g * groups.stride + torch.arange(int(c)) for g, c in enumerate(groups.counts.cpu())])
    index = used[torch.randint(len(used), (2000,), generator=gen)].to(device)
    wide = torch.randn(2000, 140, generator=gen).to(device)
    parts = [wide[:, :136], torch.randn(2000, 4, generator=gen).to(device)]
    got = add_rows_in_use(index, parts, groups.counts, groups.stride)
    expected = torch.zeros(4 * groups.stride, 140, device=device).index_add(0, index, torch.cat(parts, 1))
    assert got.shape == expected.shape
    torch.testing.assert_close(got[used.to(device)], expected[used.to(device)], rtol=1e-5, atol=1e-5)
    tail = add_rows_in_use(index[index >= 2 * groups.stride] - 2 * groups.stride, [parts[1][index >= 2 * groups.stride]],
                           groups.counts[2:], groups.stride)
    assert tail.shape == (2 * groups.stride, 4)


def _dense(x, weight, groups, full, width):
    """The expected rows in use, from a plain per-group product."""
    out, tail = [], []
    for g in range(weight.size(0)):
        rows = groups.rows[g, :int(groups.counts[g])]
        product = x[rows] @ weight[g].t()
        (out if g < full else tail).append(product if g < full else product[:, width:])
    return out, tail


def _in_use(result, groups, first_group, parts):
    return [result[(g - first_group) * groups.stride:][:int(groups.counts[g])] for g in range(first_group,
                                                                                              first_group + parts)]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16, torch.bfloat16, torch.float64])
@pytest.mark.parametrize("case", [
    # rows, in, width, heads, full, group sizes (-1: every row)
    (517, 128, 128, 4, 3, [900, 40, -1, 300, 0]),  # MLPerf R-GAT's shape: projection + score, score-only groups
    (70, 24, 20, 3, 2, [10, 200]),  # widths that are not powers of two; no score-only group
    (33, 16, 16, 2, 0, [5, -1]),  # score-only groups only (a type that receives but does not send)
    (0, 8, 16, 4, 1, [0, 0]),  # a node type trimmed to no rows
])
def test_values_and_gradients_equal_a_dense_product(device, dtype, case):
    if device == "cpu" and dtype == torch.float16:
        pytest.skip("no fp16 products on the CPU")
    rows, ins, width, heads, full, sizes = case
    gen = torch.Generator().manual_seed(1)
    groups = ops.row_groups([i.to(device) for i in _indices(rows, sizes, seed=2)], rows)
    x = torch.randn(rows, ins, generator=gen, dtype=torch.float64).to(device)
    weight = torch.randn(len(sizes), width + heads, ins, generator=gen, dtype=torch.float64).to(device)
    grads = [torch.randn(len(s), width + heads, generator=gen, dtype=torch.float64).to(device)
             for s in _dense(x, weight, groups, full, width)[0]]
    tail_grads = [torch.randn(int(groups.counts[g]), heads, generator=gen, dtype=torch.float64).to(device)
                  for g in range(full, len(sizes))]

    def run(x, weight, fn):
        x, weight = x.detach().requires_grad_(), weight.detach().requires_grad_()
        out, tail = fn(x, weight)
        loss = sum((o * g.to(o.dtype)).sum() for o, g in zip(out, grads)) + sum(
            (t * g.to(t.dtype)).sum() for t, g in zip(tail, tail_grads))
        if loss.requires_grad:
            loss.backward()
        return out, tail, x.grad, weight.grad

    def ours(x, weight):
        out, tail = ops.grouped_project(x, weight, groups, full, width)
        assert out.shape == (full * groups.stride, width + heads) and out.dtype == dtype
        assert tail.shape == ((len(sizes) - full) * groups.stride, heads)
        return _in_use(out, groups, 0, full), _in_use(tail, groups, full, len(sizes) - full)

    got = run(x.to(dtype), weight.to(dtype), ours)
    expected = run(x, weight, lambda a, b: _dense(a, b, groups, full, width))
    for got_part, want_part in zip(got[:2], expected[:2]):
        for g, w in zip(got_part, want_part):
            torch.testing.assert_close(g.double(), w, **TOLERANCE[dtype])
    for g, w in zip(got[2:], expected[2:]):
        if w is None:
            w = torch.zeros_like(g if g is not None else x, dtype=torch.float64)
        torch.testing.assert_close((g if g is not None else torch.zeros_like(w)).double(), w, **TOLERANCE[dtype])


@pytest.mark.parametrize("device", DEVICES)
def test_input_features_without_gradient_get_only_the_weights(device):
    groups = ops.row_groups([torch.tensor([3, 1, 3], device=device)], 5)
    x = torch.randn(5, 16, device=device)
    weight = torch.randn(1, 20, 16, device=device, requires_grad=True)
    out, _ = ops.grouped_project(x, weight, groups, 1, 16)
    out[:2].sum().backward()
    torch.testing.assert_close(weight.grad[0], x[[1, 3]].sum(0).expand(20, 16))


@pytest.mark.parametrize("device", DEVICES)
def test_compiles_without_recompiling_and_repeats_bit_for_bit(device):
    weight = torch.randn(3, 36, 32, device=device, requires_grad=True)

    def step(x, a, b, c):
        groups = ops.row_groups([a, b, c], x.size(0))
        out, tail = ops.grouped_project(x, weight, groups, 2, 32)
        rows = groups.slot_of[0].index_select(0, a)
        return out.index_select(0, rows).sum() + tail.index_select(
            0, groups.slot_of[2].index_select(0, c) - 2 * groups.stride).square().sum()

    compiled = torch.compile(step, fullgraph=True, dynamic=True)
    torch._dynamo.reset()
    for i, (rows, edges) in enumerate([(50, 150), (130, 200), (260, 400)]):
        gen = torch.Generator().manual_seed(i)
        x = torch.randn(rows, 32, generator=gen).to(device).requires_grad_()
        a, b, c = (torch.randint(0, rows, (edges,), generator=gen).to(device) for _ in range(3))
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            results = []
            for fn in (compiled, compiled, step):
                weight.grad = None
                loss = fn(x, a, b, c)
                results.append((loss.detach(), *torch.autograd.grad(loss, (x, weight))))
        for got, again, eager in zip(*results):
            assert torch.equal(got, again)  # repeatable
            torch.testing.assert_close(got, eager, rtol=1e-5, atol=1e-4)


def test_bad_shapes_name_the_problem():
    groups = ops.row_groups([torch.tensor([0, 1])], 4)
    with pytest.raises(ValueError, match=r"x \[N, I\] and weight \[G, O, I\]"):
        ops.grouped_project(torch.randn(4, 8), torch.randn(1, 10, 9), groups, 1, 8)
    with pytest.raises(ValueError, match="1 row groups for 2 weights"):
        ops.grouped_project(torch.randn(4, 8), torch.randn(2, 10, 8), groups, 1, 8)


def test_reference_pads_unused_rows_with_zeros():
    groups = ops.row_groups([torch.tensor([2]), torch.tensor([0, 1])], 3)
    out, tail = grouped_project_reference(torch.ones(3, 4), torch.ones(2, 6, 4), groups, 1, 4)
    assert out[1:].abs().sum() == 0 and out[0].eq(4).all()
    assert tail[:2].eq(4).all() and tail[2:].abs().sum() == 0
