"""gnnx's Triton kernels run by Triton's interpreter on the CPU, against plain ATen.

Run as ``TRITON_INTERPRET=1 python tests/ops/triton_interpreter_checks.py NAME...`` (the
interpreter is chosen when the kernels are defined, so each run is a process of its own;
``test_triton_interpreter.py`` runs them). fp32 only: the interpreter computes bf16 and fp16
products wrongly. Values only: the interpreter runs each program in turn, so races and launch
shapes are for the CUDA tests (``-m cuda``) to find.
"""
from __future__ import annotations

import contextlib
import os
import sys
import types
from typing import Callable, Dict

os.environ["TRITON_INTERPRET"] = "1"
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))

import torch  # noqa: E402

torch.cuda.get_device_properties = lambda device: types.SimpleNamespace(multi_processor_count=4)


def _scalar_index_from_one_element_arrays() -> None:
    """Triton 3.6's interpreter (the GPU machine's) turns a loaded scalar, a one-element array,
    into a loop bound with ``int(array)``, which NumPy 2.4 refuses ("only 0-dimensional
    arrays ..."); Triton 3.8's squeezes it first. The same for older interpreters."""
    from triton.runtime import interpreter
    patch = getattr(interpreter, "_patch_lang_tensor", None)
    if patch is None:
        return

    def with_squeezed_index(tensor, scope) -> None:
        patch(tensor, scope)
        scope.set_attr(tensor, "__index__", lambda self: int(self.handle.data.squeeze()))

    interpreter._patch_lang_tensor = with_squeezed_index


_scalar_index_from_one_element_arrays()

from gnnx.graph import build_csr  # noqa: E402
from gnnx.ops import (  # noqa: E402
    grouped_projection,
    triton_attention,
    triton_edge_mlp,
    triton_grouped_project,
    triton_kernels,
    triton_knn,
    triton_matmul,
)
from gnnx.ops.attention import attention  # noqa: E402
from gnnx.ops.edge_mlp import edge_mlp_max_reference  # noqa: E402
from gnnx.ops.grouped_projection import (  # noqa: E402
    RowGroups,
    _row_groups,
    _stride,
    _sum_rows,
    grouped_project_reference,
)

for module in (triton_kernels, triton_attention, triton_grouped_project, triton_matmul, triton_edge_mlp,
               triton_knn):
    module._on_device = lambda tensor: contextlib.nullcontext()  # no CUDA device to select

CHECKS: Dict[str, Callable[[], None]] = {}


def check(fn: Callable[[], None]) -> Callable[[], None]:
    CHECKS[fn.__name__] = fn
    return fn


def close(got: torch.Tensor, expected: torch.Tensor, what: str, tol: float = 1e-4) -> None:
    scale = max(1.0, expected.abs().max().item()) if expected.numel() else 1.0
    torch.testing.assert_close(got, expected, rtol=0, atol=tol * scale, msg=lambda m: f"{what}: {m}")


def random_groups(num_rows: int, sizes) -> list:
    return [torch.randint(0, max(num_rows, 1), (size,)) if num_rows else torch.zeros(0, dtype=torch.long)
            for size in sizes]


@check
def row_groups() -> None:
    for num_rows, sizes in ((300, (500, 3, 0, 40)), (1500, (2000, 1, 1400)), (0, (0, 0)), (7, (30,))):
        indices = random_groups(num_rows, sizes)
        stride = _stride(num_rows)
        rows, counts, slot_of = triton_grouped_project.row_groups(indices, num_rows, stride)
        expected = _row_groups(indices, num_rows)
        assert torch.equal(counts, expected[1]), (num_rows, counts, expected[1])
        assert torch.equal(slot_of, expected[2]), num_rows
        in_use = torch.arange(stride) < counts[:, None]
        assert torch.equal(rows[in_use], expected[0][in_use]), num_rows


@check
def grouped_project() -> None:
    torch.manual_seed(0)
    for num_rows, ins, width, heads, full, groups in ((300, 40, 24, 4, 3, 5), (130, 128, 128, 4, 2, 4),
                                                       (5, 16, 16, 2, 1, 1)):
        indices = random_groups(num_rows, [int(torch.randint(1, 2 * num_rows, ())) for _ in range(groups)])
        rows, counts, slot_of = _row_groups(indices, num_rows)
        layout = RowGroups(rows, counts, slot_of, _stride(num_rows))
        x = torch.randn(num_rows, ins, requires_grad=True)
        weight = torch.randn(groups, width + heads, ins, requires_grad=True)
        expected, expected_tail = grouped_project_reference(x, weight, layout, full, width)
        out, tail = triton_grouped_project.grouped_project(x.detach(), weight.detach(), rows, counts, layout.stride,
                                                           full, width)
        in_use = (torch.arange(layout.stride) < counts[:, None]).view(-1)
        main, score_only = in_use[:full * layout.stride], in_use[full * layout.stride:]
        close(out[main], expected[main], "forward")
        close(tail[score_only], expected_tail[score_only], "forward, score-only groups")
        # gradient in runs of rows, as a layer's outputs beyond the seeds' hops have none: grad
        # rows skips the all-zero chunks
        carries = (torch.arange(layout.stride) % 100 < 40).repeat(groups)
        grad = torch.randn_like(expected) * (main & carries[:full * layout.stride])[:, None]
        grad_tail = torch.randn_like(expected_tail) * (score_only & carries[full * layout.stride:])[:, None]
        grad_x, grad_w = torch.autograd.grad((expected * grad).sum() + (expected_tail * grad_tail).sum(), (x, weight))
        for skipping in (False, True):
            triton_grouped_project.CONFIG["skip_zero_grad"] = skipping
            for need_rows in (True, False):
                grad_rows, got_w = triton_grouped_project.grouped_project_grads(
                    grad, grad_tail, x.detach(), weight.detach(), rows, counts, layout.stride, full, width, need_rows)
                if need_rows:
                    close(_sum_rows(grad_rows, slot_of), grad_x, f"grad x (skipping {skipping})")
                close(got_w, grad_w, f"grad weight (need_rows={need_rows}, skipping {skipping})")
        grad[0, 0] = float("nan")  # NaN is not skipped as zero
        grad_rows, got_w = triton_grouped_project.grouped_project_grads(grad, grad_tail, x.detach(), weight.detach(),
                                                                        rows, counts, layout.stride, full, width, True)
        assert grad_rows[0].isnan().all() and got_w[0, 0].isnan().all(), "a NaN gradient must reach both grads"


@check
def add_rows_in_use() -> None:
    torch.manual_seed(1)
    counts, stride = torch.tensor([5, 0, 70]), 128
    index = torch.cat([torch.randint(0, 5, (40,)), torch.randint(2 * stride, 2 * stride + 70, (300,))])
    parts = [torch.randn(340, 24), torch.randn(340, 40)[:, ::2], torch.randn(340, 0)]
    parts[0][100:200] = 0  # zeros are not added
    out = triton_grouped_project.add_rows_in_use(index, parts, counts, stride)
    expected = torch.zeros(3 * stride, 44).index_add(0, index, torch.cat(parts, 1))
    in_use = (torch.arange(stride) < counts[:, None]).view(-1)
    close(out[in_use], expected[in_use], "rows in use")


@check
def project_sparse_rows_grads() -> None:
    torch.manual_seed(2)
    for rows in (0, 1, 32, 64, 200):
        grad = torch.randn(rows, 40)
        grad[rows // 3:] = 0  # the rows past the seeds get no gradient
        x, weight = torch.randn(rows, 24), torch.randn(40, 24)
        grad_x, grad_w = triton_matmul.sparse_rows_grads(grad, x, weight, True, True)
        close(grad_x, grad @ weight, f"grad x ({rows} rows)")
        close(grad_w, grad.t() @ x, f"grad weight ({rows} rows)")


def random_graph(num_src: int, num_dst: int, num_edges: int, seed: int):
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(0, num_src, (num_edges,), generator=generator)
    dst = torch.randint(0, num_dst, (num_edges,), generator=generator)
    return src, dst, build_csr(torch.stack([src, dst]), num_dst, num_src)


@check
def spmm() -> None:
    src, dst, csr = random_graph(50, 40, 300, seed=3)
    x, weight = torch.randn(50, 20), torch.rand(300)
    out, _ = triton_kernels._launch_spmm(csr.rowptr, csr.col, weight[csr.perm], x, False)
    close(out, torch.zeros(40, 20).index_add(0, dst, weight[:, None] * x[src]), "weighted sum")
    out, arg = triton_kernels._launch_spmm(csr.rowptr, csr.col, None, x, True)
    expected = torch.full((40, 20), float("-inf")).index_reduce(0, dst, x[src], "amax")
    has_edges = torch.bincount(dst, minlength=40) > 0
    close(out[has_edges], expected[has_edges], "max")
    assert torch.equal(x[csr.col[arg[has_edges]], torch.arange(20).expand(int(has_edges.sum()), 20)], out[has_edges])
    assert (arg[~has_edges] == -1).all(), "a row without edges names no winner"
    heads = torch.rand(300, 4)  # a weight per edge and head, 5 channels a head
    out, _ = triton_kernels._launch_spmm(csr.rowptr, csr.col, heads[csr.perm], x.view(50, 4, 5), False)
    close(out, torch.zeros(40, 4, 5).index_add(0, dst, heads[:, :, None] * x.view(50, 4, 5)[src]), "per-head weights")
    out, _ = triton_kernels._launch_spmm(csr.rowptr, csr.col, weight[csr.perm], x, True)
    expected = torch.full((40, 20), float("-inf")).index_reduce(0, dst, weight[:, None] * x[src], "amax")
    close(out[has_edges], expected[has_edges], "weighted max")
    messages = x[src][csr.perm]  # rows already in CSR order: no col
    out, _ = triton_kernels._launch_spmm(csr.rowptr, None, None, messages, False)
    close(out, torch.zeros(40, 20).index_add(0, dst, x[src]), "sum of rows in CSR order")


@check
def sddmm() -> None:
    src, dst, csr = random_graph(30, 30, 200, seed=4)
    a, b = torch.randn(30, 4, 8), torch.randn(30, 4, 8)
    out = triton_kernels._launch_sddmm(dst, src, a, b, 4)
    close(out.view(200, 4), (a[dst] * b[src]).sum(-1), "per-head dots")


@check
def gat_attention() -> None:
    src, dst, csr = random_graph(35, 30, 250, seed=8)
    edge_index = torch.stack([src, dst])
    torch.manual_seed(9)
    x = torch.randn(35, 2, 16, requires_grad=True)
    masked = torch.randn(250, 2).masked_fill((src == dst).view(-1, 1) | (torch.arange(250) % 7 == 0).view(-1, 1),
                                             float("-inf"))  # old self loops and others out, as GAT's stale loops
    scores = dict(score_src=torch.randn(35, 2, requires_grad=True), score_dst=torch.randn(30, 2, requires_grad=True))
    gatv2 = dict(x_dst=torch.randn(30, 2, 16, requires_grad=True), att=torch.randn(1, 2, 16, requires_grad=True))
    cases = (("GAT", scores), ("GAT, edge bias", dict(scores, edge_bias=torch.randn(250, 2, requires_grad=True))),
             ("GAT, -inf bias", dict(scores, edge_bias=masked)), ("GATv2", gatv2))
    registered = triton_attention._runs_eagerly
    for path, runs_eagerly in (("eager node", registered), ("registered op", lambda *t: False)):
        triton_attention._runs_eagerly = runs_eagerly
        for what, inputs in cases:
            what = f"{what}, {path}"
            got = triton_attention.fused_attention(x, csr, inputs.get("score_src"), inputs.get("score_dst"),
                                                   inputs.get("x_dst"), inputs.get("att"), inputs.get("edge_bias"), 0.2)
            expected = attention(x, edge_index, 30, **inputs)
            close(got, expected, f"forward ({what})")
            grad = torch.randn_like(expected)
            leaves = [x] + [t for t in inputs.values() if t.requires_grad]
            got_grads = torch.autograd.grad((got * grad).sum(), leaves)
            expected_grads = torch.autograd.grad((expected * grad).sum(), leaves)
            for i, (g, e) in enumerate(zip(got_grads, expected_grads)):
                close(g, e, f"grad {i} ({what})", tol=1e-3)
    triton_attention._runs_eagerly = registered


@check
def edge_mlp_max() -> None:
    variants = [dict(bwd_h_split=h, bwd_atomic_b=atomic) for h in (1, 2) for atomic in (False, True)]
    # ~9 edges a row, and ~80 (rows over several CSR chunks, many channels won by one edge)
    for num_dst, num_edges in ((45, 400), (5, 400)):
        src, dst, csr = random_graph(60, num_dst, num_edges, seed=5)
        for variant in variants:
            triton_edge_mlp.CONFIG.update(variant)
            torch.manual_seed(6)
            a, b = torch.randn(num_dst, 32, requires_grad=True), torch.randn(60, 32, requires_grad=True)
            weight, bias = torch.randn(16, 32, requires_grad=True), torch.randn(16, requires_grad=True)
            out, _ = triton_edge_mlp.edge_mlp_max(csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t,
                                                  a, b, weight, bias)
            expected = edge_mlp_max_reference(a, b, weight, bias, src, dst, num_dst)
            what = f"{num_dst} rows, {variant}"
            close(out, expected, f"forward ({what})")
            grad = torch.randn_like(expected)
            got = torch.autograd.grad((out * grad).sum(), (a, b, weight, bias))
            wanted = torch.autograd.grad((expected * grad).sum(), (a, b, weight, bias))
            for name, g, w in zip(("a", "b", "weight", "bias"), got, wanted):
                close(g, w, f"grad {name} ({what})", tol=1e-3)


def penalty_grads(forward: Callable[[], torch.Tensor], leaves) -> list:
    """The leaves' gradients of a gradient penalty, ``sum |d <out, w> / d leaf|^2``: a second
    derivative (``create_graph=True``), as in WGAN-GP or in forces trained against."""
    out = forward()
    weights = torch.linspace(-1, 1, out.numel()).view_as(out)
    first = torch.autograd.grad((out * weights).sum(), leaves, create_graph=True, allow_unused=True)
    penalty = sum((g ** 2).sum() for g in first if g is not None)
    return [g if g is not None else torch.zeros_like(t)
            for g, t in zip(torch.autograd.grad(penalty, leaves, allow_unused=True), leaves)]


def same_second_derivatives(what: str, kernel: Callable[[], torch.Tensor], reference: Callable[[], torch.Tensor],
                            leaves) -> None:
    for i, (got, expected) in enumerate(zip(penalty_grads(kernel, leaves), penalty_grads(reference, leaves))):
        close(got, expected, f"{what}: second derivative, input {i}", tol=1e-3)


@check
def second_derivatives() -> None:
    """A backward under ``create_graph`` through each op equals the reference's (the kernels'
    own backward passes are first-order: gnnx.ops.second_order)."""
    src, dst, csr = random_graph(35, 30, 250, seed=8)
    edge_index = torch.stack([src, dst])
    torch.manual_seed(10)
    x, weight = torch.randn(35, 20, requires_grad=True), torch.rand(250, requires_grad=True)
    structure = (csr.rowptr, csr.col)

    def summed() -> torch.Tensor:
        return torch.zeros(30, 20).index_add(0, dst, weight[:, None] * x[src])

    same_second_derivatives("weighted sum (op)", lambda: triton_kernels.csr_spmm_sum(
        *structure, weight[csr.perm], csr.row, csr.rowptr_t, csr.col_t, weight[csr.perm_t], x), summed, (x, weight))
    same_second_derivatives("weighted sum (eager)", lambda: triton_kernels.EagerCSRSum.apply(
        *structure, weight[csr.perm], csr.row, csr.rowptr_t, csr.col_t, weight[csr.perm_t], x), summed, (x, weight))
    per_head = torch.rand(250, 4, requires_grad=True)  # a weight per edge and head, 5 channels a head
    same_second_derivatives("per-head weighted sum (eager)", lambda: triton_kernels.EagerCSRSum.apply(
        *structure, per_head[csr.perm], csr.row, csr.rowptr_t, csr.col_t, per_head[csr.perm_t], x.view(35, 4, 5)),
        lambda: torch.zeros(30, 4, 5).index_add(0, dst, per_head[:, :, None] * x.view(35, 4, 5)[src]), (x, per_head))
    # weights computed from the features they weight (graph attention): the op's partial
    # derivatives, not the total ones, go back through it
    x_square = torch.randn(30, 20, requires_grad=True)
    square = random_graph(30, 30, 250, seed=11)

    def attention_weights() -> torch.Tensor:
        return torch.sigmoid((x_square[square[0]] * x_square[square[1]]).sum(-1))

    def weighted_by_attention() -> torch.Tensor:
        w, sq = attention_weights(), square[2]
        return triton_kernels.EagerCSRSum.apply(sq.rowptr, sq.col, w[sq.perm], sq.row, sq.rowptr_t, sq.col_t,
                                                w[sq.perm_t], x_square)

    same_second_derivatives("sum weighted by the features", weighted_by_attention, lambda: torch.zeros(30, 20).index_add(
        0, square[1], attention_weights()[:, None] * x_square[square[0]]), (x_square,))
    has_edges = torch.bincount(dst, minlength=30) > 0
    same_second_derivatives(
        "weighted max", lambda: triton_kernels.csr_spmm_max(*structure, weight[csr.perm], x)[0][has_edges],
        lambda: torch.zeros(30, 20).index_reduce(0, dst, weight[:, None] * x[src], "amax", include_self=False)[
            has_edges], (x, weight))
    heads = torch.randn(35, 2, 16, requires_grad=True)
    att_src, att_dst = torch.randn(2, 16, requires_grad=True), torch.randn(2, 16, requires_grad=True)

    def gat() -> dict:  # GAT's score halves from the features, as the layer computes them
        return dict(score_src=(heads * att_src).sum(-1), score_dst=(heads[:30] * att_dst).sum(-1),
                    edge_bias=heads[:, :, 0][src])

    def gatv2() -> dict:
        return dict(x_dst=heads[:30] * 0.5, att=att_src.unsqueeze(0))

    for what, inputs in (("GAT attention", gat), ("GATv2 attention", gatv2)):
        same_second_derivatives(what, lambda: triton_attention.fused_attention(
            heads, csr, inputs().get("score_src"), inputs().get("score_dst"), inputs().get("x_dst"),
            inputs().get("att"), inputs().get("edge_bias"), 0.2), lambda: attention(heads, edge_index, 30, **inputs()),
            [heads, att_src, att_dst])
    a, b = torch.randn(30, 32, requires_grad=True), torch.randn(35, 32, requires_grad=True)
    mlp = torch.randn(16, 32, requires_grad=True), torch.randn(16, requires_grad=True)
    same_second_derivatives("EdgeConv", lambda: triton_edge_mlp.edge_mlp_max(
        csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t, a, b, *mlp)[0],
        lambda: edge_mlp_max_reference(a, b, *mlp, src, dst, 30), (a, b, *mlp))
    indices = random_groups(40, [60, 25, 70])
    layout = RowGroups(*_row_groups(indices, 40), _stride(40))
    x, weight = torch.randn(40, 24, requires_grad=True), torch.randn(3, 20, 24, requires_grad=True)
    in_use = (torch.arange(layout.stride) < layout.counts[:, None]).view(-1)

    def rows_in_use(out: torch.Tensor, tail: torch.Tensor) -> torch.Tensor:
        return torch.cat([out[in_use[:2 * layout.stride]].flatten(), tail[in_use[2 * layout.stride:]].flatten()])

    grouped_projection._KERNELS = triton_grouped_project
    same_second_derivatives("grouped projection", lambda: rows_in_use(*grouped_projection.grouped_project(
        x, weight, layout, 2, 16)), lambda: rows_in_use(*grouped_project_reference(x, weight, layout, 2, 16)),
        (x, weight))


def brute_force(points: torch.Tensor, queries: torch.Tensor, batch_x, batch_y, k: int, loop: bool,
                cosine: bool = False, radius: float = None) -> torch.Tensor:
    """The ``k`` smallest squared distances (``1 - cos``) of each query, ``inf`` past its cloud's points."""
    if cosine:
        distances = 1 - torch.nn.functional.normalize(queries, dim=1) @ torch.nn.functional.normalize(points, dim=1).t()
    else:
        distances = torch.cdist(queries, points).square()
    distances[batch_y[:, None] != batch_x[None, :]] = float("inf")
    if not loop:
        distances.fill_diagonal_(float("inf"))
    if radius is not None:
        distances[distances > radius * radius] = float("inf")
    return distances.topk(k, largest=False).values


@check
def knn() -> None:
    torch.manual_seed(7)
    points, batch = torch.rand(400, 3), torch.arange(4).repeat_interleave(100)
    values, index = triton_knn.nearest(points, points, 8, batch, batch, False, True)
    close(values, brute_force(points, points, batch, batch, 8, loop=False), "k nearest squared distances")
    assert (batch[index] == batch[:, None]).all(), "neighbours stay in their cloud"
    # two sets, unsorted clouds, one with fewer points than k; cosine; a radius
    queries, batch_y = torch.rand(50, 3), torch.randint(0, 3, (50,))
    few, batch_few = torch.rand(40, 3), torch.cat([torch.zeros(35, dtype=torch.long), torch.full((5,), 2)])
    values, index = triton_knn.nearest(few, queries, 8, batch_few, batch_y, False, False)
    close(values, brute_force(few, queries, batch_few, batch_y, 8, loop=True), "two sets, a cloud of 5 points, k = 8")
    values, _ = triton_knn.nearest(points, points, 6, None, None, True, False)
    close(values, brute_force(points, points, torch.zeros(400), torch.zeros(400), 6, loop=True, cosine=True),
          "cosine", tol=1e-3)
    values, _ = triton_knn.nearest(points, points, 16, batch, batch, False, True, radius=0.15)
    close(values, brute_force(points, points, batch, batch, 16, loop=False, radius=0.15), "radius 0.15")


if __name__ == "__main__":
    for name in sys.argv[1:] or list(CHECKS):
        CHECKS[name]()
        print("ok", name, flush=True)
