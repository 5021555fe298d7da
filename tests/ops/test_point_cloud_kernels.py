"""The point-cloud kernels of issue #17 against their ATen references: the tiled Triton
kNN (:mod:`gnnx.ops.triton_knn`) and the fused EdgeConv (:mod:`gnnx.ops.triton_edge_mlp`).

The reference halves run everywhere; the kernel halves are marked ``cuda`` (run them on the
GPU machine with ``-m cuda``)."""
import pytest
import torch

import gnnx
from gnnx import ops
from gnnx.graph import build_csr
from gnnx.nn import MLP, EdgeCNN, EdgeConv
from gnnx.ops import dispatch
from gnnx.ops.edge_mlp import edge_mlp_max, edge_mlp_max_reference
from gnnx.ops.neighbors import _all_pairs

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])


def _points(n, dims, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(n, dims, generator=gen)


def _check_nearest(values, index, x, y, k, batch_x, batch_y, cosine, no_loop):
    ref_v, ref_i = _all_pairs(x.cpu().double(), y.cpu().double(), k, batch_x, batch_y, cosine, no_loop)
    values, index = values.cpu().double(), index.cpu()
    finite = ~torch.isinf(ref_v)
    assert torch.equal(finite, ~torch.isinf(values))
    assert torch.allclose(values[finite], ref_v[finite], atol=1e-5)
    # the same neighbours wherever distances are not tied within float32 rounding
    gap = (ref_v[:, 1:] - ref_v[:, :-1]).abs()
    distinct = torch.cat([gap[:, :1], torch.minimum(gap[:, 1:], gap[:, :-1]), gap[:, -1:]], 1) > 1e-5
    sure = finite & distinct
    assert torch.equal(index[sure], ref_i[sure])


@pytest.mark.parametrize("device", [CUDA])
@pytest.mark.parametrize("dims,k", [(2, 16), (3, 12), (4, 12), (7, 5), (16, 20)])
@pytest.mark.parametrize("layout", ["one", "sorted", "shuffled"])
def test_tiled_knn_matches_all_pairs(device, dims, k, layout):
    x = _points(700, dims)
    batch = None
    if layout != "one":
        batch = torch.arange(3).repeat_interleave(torch.tensor([300, 390, 10]))  # one graph smaller than k
        if layout == "shuffled":
            batch = batch[torch.randperm(700, generator=torch.Generator().manual_seed(1))]
    tiles = dispatch.cuda_knn_kernels()
    xd, bd = x.to(device), None if batch is None else batch.to(device)
    for no_loop in (False, True):
        values, index = tiles.nearest(xd, xd, k, bd, bd, False, no_loop)
        _check_nearest(values, index, x, x, k, batch, batch, False, no_loop)
    values, index = tiles.nearest(xd, xd, k, bd, bd, True, True)
    _check_nearest(values, index, x, x, k, batch, batch, True, True)
    edge_index = ops.knn_graph(xd, k, bd)  # the public op takes the kernel on CUDA
    expected = ops.knn_graph(x, k, batch)
    assert edge_index.shape == expected.shape


@pytest.mark.parametrize("device", [CUDA])
def test_tiled_knn_between_sets_radius_and_compiled(device):
    x, y = _points(500, 4, 0), _points(300, 4, 1)
    bx = torch.arange(2).repeat_interleave(250)
    by = torch.arange(2).repeat_interleave(150)
    pairs, mask = ops.knn(x.to(device), y.to(device), 9, bx.to(device), by.to(device))
    ref_pairs, ref_mask = ops.knn(x, y, 9, bx, by)
    assert torch.equal(mask.cpu(), ref_mask)
    assert torch.equal(pairs.cpu(), ref_pairs)
    edges, valid = ops.radius_graph(x.to(device), 0.2, bx.to(device), max_num_neighbors=16)
    ref_edges, ref_valid = ops.radius_graph(x, 0.2, bx, max_num_neighbors=16)
    assert torch.equal(valid.cpu(), ref_valid) and torch.equal(edges.cpu(), ref_edges)
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()  # reset() keeps them: count this test's graphs only
    compiled = torch.compile(lambda p: ops.knn_graph(p, 12), fullgraph=True, dynamic=True)
    for n in (200, 333, 451):
        p = _points(n, 4, n).to(device)
        assert torch.equal(compiled(p), ops.knn_graph(p, 12))
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] <= 2


@pytest.mark.parametrize("device", [CUDA])
def test_k_beyond_the_points_and_empty_sets_on_the_device(device):
    x = _points(7, 3)
    assert torch.equal(ops.knn_graph(x.to(device), 16).cpu(), ops.knn_graph(x, 16))
    pairs, mask = ops.knn(x.to(device), _points(3, 3, 1).to(device), 10)
    ref_pairs, ref_mask = ops.knn(x, _points(3, 3, 1), 10)
    assert torch.equal(mask.cpu(), ref_mask) and torch.equal(pairs.cpu(), ref_pairs)
    assert ops.knn_graph(torch.empty(0, 3, device=device), 4).shape == (2, 0)


def _edge_inputs(n_dst, n_src, edges, hidden, out, device, seed=0):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(0, n_src, (edges,), generator=gen)
    dst = torch.randint(0, n_dst, (edges,), generator=gen)
    a = torch.randn(n_dst, hidden, generator=gen)
    b = torch.randn(n_src, hidden, generator=gen)
    w = torch.randn(out, hidden, generator=gen) / hidden ** 0.5
    c = torch.randn(out, generator=gen)
    return [t.to(device) for t in (src, dst, a, b, w, c)]


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("n_dst,n_src,edges,hidden,out", [(300, 300, 4000, 64, 64), (50, 80, 700, 24, 20),
                                                          (40, 40, 0, 16, 16), (64, 10, 300, 128, 96)])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("backward", [{}, {"bwd_h_split": 2}, {"bwd_atomic_b": True}],
                         ids=["whole", "halves", "atomic grad b"])
def test_fused_edge_mlp_equals_reference(device, n_dst, n_src, edges, hidden, out, bias, backward, monkeypatch):
    """Values and gradients against float64 autograd, with the backward's launch options: the
    hidden columns whole or in two halves (``bwd_h_split``), ``grad b`` by atomics."""
    if device == "cpu" and backward:
        pytest.skip("a CUDA kernel's launch option")
    if backward:
        from gnnx.ops import triton_edge_mlp
        for key, value in backward.items():
            monkeypatch.setitem(triton_edge_mlp.CONFIG, key, value)
    torch.backends.cuda.matmul.allow_tf32 = False
    src, dst, a, b, w, c = _edge_inputs(n_dst, n_src, edges, hidden, out, device)
    c = c if bias else None
    csr = build_csr(torch.stack([src, dst]), n_dst, n_src)
    leaves = [t.clone().requires_grad_() for t in (a, b, w)] + ([c.clone().requires_grad_()] if bias else [])
    ref_leaves = [t.detach().cpu().double().requires_grad_() for t in leaves]
    buffer = torch.full((1 << 24,), float("nan"), device=device)  # outputs a kernel forgets show as NaN
    del buffer
    got = edge_mlp_max(*leaves[:3], leaves[3] if bias else None, csr=csr)
    ref = edge_mlp_max_reference(*ref_leaves[:3], ref_leaves[3] if bias else None, src.cpu(), dst.cpu(), n_dst)
    assert torch.allclose(got.cpu().double(), ref, atol=1e-4)
    probe = torch.randn(ref.shape, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    grads = torch.autograd.grad(got, leaves, probe.to(device, got.dtype))
    ref_grads = torch.autograd.grad(ref, ref_leaves, probe)
    for g, r in zip(grads, ref_grads):
        assert torch.allclose(g.cpu().double(), r, atol=1e-3, rtol=1e-4)


@pytest.mark.parametrize("device", [CUDA])
def test_fused_edge_mlp_takes_the_halves_of_one_node_product(device):
    """EdgeConv passes ``a`` and ``b`` as the column halves of one ``[N, 2H]`` product: the
    kernels read the strided rows in place, with the values and gradients of contiguous copies."""
    torch.backends.cuda.matmul.allow_tf32 = False
    src, dst, a, b, w, c = _edge_inputs(300, 300, 5000, 32, 48, device, seed=4)
    csr = build_csr(torch.stack([src, dst]), 300, 300)
    both = torch.cat([a, b], 1).requires_grad_()
    halves = both.split(32, dim=1)
    assert halves[0].stride() == (64, 1)
    copies = [t.detach().clone().requires_grad_() for t in (a, b)]
    out = edge_mlp_max(*halves, w, c, csr=csr)
    ref = edge_mlp_max(*copies, w, c, csr=csr)
    assert torch.equal(out, ref)
    probe = torch.randn_like(out)
    (grad_both,) = torch.autograd.grad(out, both, probe)
    grads = torch.autograd.grad(ref, copies, probe)
    assert torch.equal(grad_both, torch.cat(grads, 1))


def _count_fused(monkeypatch):
    kernels = dispatch.cuda_edge_mlp_kernels()
    calls = []

    class Spy:  # counts the forward's kernel calls: the registered op, or eager calls' own node's
        usable = staticmethod(kernels.usable)
        launch_backward = staticmethod(kernels.launch_backward)
        bias_grad = staticmethod(kernels.bias_grad)

        @staticmethod
        def edge_mlp_max(*args):
            calls.append(1)
            return kernels.edge_mlp_max(*args)

        @staticmethod
        def launch_forward(*args):
            calls.append(1)
            return kernels.launch_forward(*args)

    monkeypatch.setattr(dispatch, "_CUDA_EDGE_MLP", Spy)
    return calls


@pytest.mark.parametrize("device", [CUDA])
def test_edge_cnn_takes_the_fused_kernel_and_matches_the_cpu(device, monkeypatch):
    torch.backends.cuda.matmul.allow_tf32 = False
    calls = _count_fused(monkeypatch)
    # Seeded: with 5,000 edges some messages tie within ~1e-6 for most weights, and a tie
    # rounded the other way on the device sends a channel's gradient to the other edge. These
    # weights keep every max ahead of the runner-up by > 6e-6 (relative), 100x fp32's rounding.
    torch.manual_seed(0)
    model = EdgeCNN(16, 32, 3, 8)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(400, 16, generator=gen)
    edge_index = torch.randint(0, 400, (2, 5000), generator=gen)
    ref = model(x, edge_index)
    cuda_model = EdgeCNN(16, 32, 3, 8).to(device)
    cuda_model.load_state_dict(model.state_dict())
    graph = gnnx.Graph(edge_index.to(device), 400)
    out = cuda_model(x.to(device), graph)
    assert len(calls) == 3
    assert torch.allclose(out.cpu(), ref, atol=1e-4)
    out.square().sum().backward()
    ref.square().sum().backward()
    for p, q in zip(cuda_model.parameters(), model.parameters()):
        assert torch.allclose(p.grad.cpu(), q.grad, atol=1e-3, rtol=1e-3)
    # a network the kernel does not cover (norm) keeps the reference path
    calls.clear()
    EdgeConv(MLP([32, 16, 16], norm="batch_norm")).to(device)(torch.randn(400, 16, device=device), graph)
    assert not calls


@pytest.mark.parametrize("device", [CUDA])
@pytest.mark.parametrize("tf32", [False, True])
def test_fused_edge_mlp_is_bitwise_repeatable_and_compiles(device, tf32):
    """No atomics: the same call twice gives the same bits (forward and backward), and the op
    runs inside a compiled graph (where EdgeConv now takes it too) with the same results."""
    torch.backends.cuda.matmul.allow_tf32 = tf32
    try:
        src, dst, a, b, w, c = _edge_inputs(2000, 2000, 40_000, 64, 64, device, seed=5)
        csr = build_csr(torch.stack([src, dst]), 2000, 2000)
        runs = []
        for fn in (edge_mlp_max, edge_mlp_max, torch.compile(edge_mlp_max, fullgraph=True)):
            leaves = [t.clone().requires_grad_() for t in (a, b, w, c)]
            out = fn(*leaves, csr=csr)
            grads = torch.autograd.grad(out, leaves, out.detach().cos())
            runs.append([out.detach(), *grads])
        for x, y in zip(runs[0], runs[1]):
            assert torch.equal(x, y)
        for x, y in zip(runs[0], runs[2]):
            assert torch.allclose(x, y, atol=1e-5, rtol=1e-5)
    finally:
        torch.backends.cuda.matmul.allow_tf32 = False


@pytest.mark.parametrize("device", [CUDA])
def test_gravnet_exports_and_packages_with_the_tiled_knn(device, tmp_path):
    """The kernel inside an exported program and a CUDA package loaded in Python (whose
    loader crashed on the lent image until gnnx.export.package.share_libstdcxx): a dynamic
    number of points, no size guards."""
    import gnnx.export
    from gnnx.nn import GravNetConv

    torch.manual_seed(0)
    model = GravNetConv(6, 8, space_dimensions=4, propagate_dimensions=5, k=7).to(device).eval()
    example = torch.randn(300, 6, device=device)
    program = torch.export.export(model, (example,), dynamic_shapes=({0: torch.export.Dim("n", min=8)},))
    assert any("knn_keys" in str(node.target) for node in program.graph.nodes)
    package = gnnx.export.load_package(gnnx.export.compile_package(program, str(tmp_path / "gravnet.pt2"),
                                                                   device=device))
    for n in (8, 129, 2000):
        x = torch.randn(n, 6, device=device)
        with torch.no_grad():
            assert torch.allclose(program.module()(x), model(x), atol=1e-5)
            assert torch.allclose(package(x), model(x), atol=1e-5)


def test_grid_serves_cuda_searches_only_without_the_tiled_kernel(monkeypatch):
    """With the tiled kernel present it takes every CUDA search (measured faster than the
    grid up to a million points in one cloud); without it, large ones go to the grid."""
    from gnnx.ops import grid

    monkeypatch.setattr(dispatch, "cuda_knn_kernels", lambda: object())
    assert grid.min_pairs(cuda=True) == float("inf")
    monkeypatch.setattr(dispatch, "cuda_knn_kernels", lambda: None)
    assert grid.min_pairs(cuda=True) == 1 << 30  # no kernel: grid against all pairs
    assert grid.min_pairs(cuda=False) == 1 << 22
    pos = torch.randn(3000, 3)
    assert grid.usable(pos, pos, 16, cosine=False)  # CPU: by size alone
    assert not grid.usable(pos, pos, 16, cosine=True)


@pytest.mark.parametrize("device", [CUDA])
@pytest.mark.parametrize("dims", [3, 4])
def test_grid_on_cuda_equals_the_cpu_grid(device, dims):
    """The grid where Triton is missing: on CUDA tensors (blocks read their candidate counts on
    the host) the CPU grid's neighbours (up to the last bit of a distance: CUDA may fuse the
    multiply-adds, so near-ties may order differently)."""
    from gnnx.ops import grid, neighbors

    gen = torch.Generator().manual_seed(dims)
    pos = torch.randn(6000, dims, generator=gen)
    pos[::100] *= 20.0  # outliers: coarser grids and brute force run too
    batch = torch.arange(3).repeat_interleave(2000)
    expected = grid.grid_nearest(pos, pos, 12, batch, batch, True, neighbors._brute_rows)
    got = grid.grid_nearest(pos.to(device), pos.to(device), 12, batch.to(device), batch.to(device), True,
                            neighbors._brute_rows)
    torch.testing.assert_close(got[0].cpu(), expected[0], rtol=1e-6, atol=1e-7)
    assert float((got[1].cpu() == expected[1]).float().mean()) > 0.999


@pytest.mark.parametrize("with_csr", [True, False])
@pytest.mark.parametrize("bias", [True, False])
def test_edge_mlp_max_in_chunks_on_the_cpu(with_csr, bias):
    """Eager CPU calls take ~1 MiB of edges at a time (here 10,000 edges of 64 channels: three
    chunks; with a CSR cut between rows, so the backward counts each row's ties within its
    chunk), forward and backward: the reference's values and gradients, a maximum shared by
    repeated edges splitting its gradient as the reference's scatter-max does, 0 for nodes
    without incoming edges, -inf and NaN messages kept as the reference keeps them."""
    gen = torch.Generator().manual_seed(3)
    n_dst, n_src, hidden, out = 300, 250, 64, 48
    src, dst = torch.randint(n_src, (10_000,), generator=gen), torch.randint(n_dst - 20, (10_000,), generator=gen)
    src[5000:5100], dst[5000:5100] = src[:100], dst[:100]  # repeated edges: tied maxima
    dst[200:4500] = 1  # a row of more edges than a chunk (4,096): with a CSR, a chunk of its own
    leaves = [torch.randn(n_dst, hidden, generator=gen), torch.randn(n_src, hidden, generator=gen),
              torch.randn(out, hidden, generator=gen)] + ([torch.randn(out, generator=gen)] if bias else [None])
    edge_index = torch.stack([src, dst])
    structure = {"csr": build_csr(edge_index, n_dst, n_src)} if with_csr else {"edge_index": edge_index}
    wanted_leaves = [t.clone().requires_grad_() if t is not None else None for t in leaves]
    expected = edge_mlp_max_reference(*wanted_leaves, src, dst, n_dst)
    grad = torch.randn(expected.shape, generator=gen)
    wanted = torch.autograd.grad(expected, [t for t in wanted_leaves if t is not None], grad)
    got_leaves = [t.clone().requires_grad_() if t is not None else None for t in leaves]
    got = edge_mlp_max(*got_leaves, **structure)
    torch.testing.assert_close(got, expected)
    assert got[n_dst - 20:].eq(0).all()  # no incoming edges
    for got_grad, want in zip(torch.autograd.grad(got, [t for t in got_leaves if t is not None], grad), wanted):
        torch.testing.assert_close(got_grad, want)
    a, b = leaves[0].clone(), leaves[1].clone()
    a[3, 0], b[7] = float("nan"), float("inf")
    with torch.no_grad():
        torch.testing.assert_close(edge_mlp_max(a, b, *leaves[2:], **structure),
                                   edge_mlp_max_reference(a, b, *leaves[2:], src, dst, n_dst), equal_nan=True)


def test_edge_mlp_max_chunks_cut_between_rows(monkeypatch):
    """With a CSR each range holds whole rows, ending at the first row boundary at or past a
    multiple of the step (so at most a step plus one row); ranges cover every edge once, and
    trailing rows without edges make no empty range."""
    from gnnx.ops.edge_mlp import _edge_ranges

    monkeypatch.setattr(dispatch, "CACHE_CHUNK_BYTES", 0)  # 64 edges a range
    rowptr = torch.tensor([0, 10, 10, 200, 230, 250, 300, 300])
    a, weight = torch.zeros(7, 4), torch.zeros(3, 4)
    ranges = _edge_ranges(a, weight, 300, rowptr)
    assert ranges == [(0, 200, 0, 3), (200, 300, 3, 6)]  # cuts at 64, 128, 192 -> 200; 256 -> 300
    assert _edge_ranges(a, weight, 150, None) == [(0, 64, -1, -1), (64, 128, -1, -1), (128, 150, -1, -1)]
    assert _edge_ranges(a, weight, 0, torch.zeros(8, dtype=torch.long)) == []


@pytest.mark.parametrize("with_csr", [True, False])
def test_edge_mlp_max_in_chunks_gradcheck(with_csr, monkeypatch):
    """Chunks of the fewest edges (64): with a CSR, rows of 1 to 150 edges, one longer than a
    chunk, and nodes without edges."""
    monkeypatch.setattr(dispatch, "CACHE_CHUNK_BYTES", 0)
    gen = torch.Generator().manual_seed(4)
    src, dst = torch.randint(60, (400,), generator=gen), torch.randint(50, (400,), generator=gen)
    dst[:150] = 7
    edge_index = torch.stack([src, dst])
    structure = {"csr": build_csr(edge_index, 55, 60)} if with_csr else {"edge_index": edge_index}
    inputs = [torch.randn(55, 4, generator=gen, dtype=torch.float64, requires_grad=True),
              torch.randn(60, 4, generator=gen, dtype=torch.float64, requires_grad=True),
              torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True),
              torch.randn(3, generator=gen, dtype=torch.float64, requires_grad=True)]
    assert torch.autograd.gradcheck(lambda *t: edge_mlp_max(*t, **structure), inputs)


def _edge_conv_inputs(n_src, n_dst, edges, features, hidden, out, device, dtype=torch.float32, seed=5):
    gen = torch.Generator().manual_seed(seed)
    num_dst = n_src if n_dst is None else n_dst
    edge_index = torch.stack([torch.randint(n_src, (edges,), generator=gen), torch.randint(num_dst, (edges,), generator=gen)])
    x_src = torch.randn(n_src, features, generator=gen, dtype=dtype)
    x_dst = x_src if n_dst is None else torch.randn(n_dst, features, generator=gen, dtype=dtype)
    params = [torch.randn(hidden, 2 * features, generator=gen, dtype=dtype) / features ** 0.5,
              torch.randn(hidden, generator=gen, dtype=dtype), torch.randn(out, hidden, generator=gen, dtype=dtype)
              / hidden ** 0.5, torch.randn(out, generator=gen, dtype=dtype)]
    csr = build_csr(edge_index.to(device), x_dst.size(0), n_src)
    return [t.to(device).requires_grad_() for t in (x_src, x_dst)] + [p.to(device).requires_grad_() for p in params], csr


@pytest.mark.parametrize("device", ["cpu", CUDA])
@pytest.mark.parametrize("bipartite", [False, True], ids=["one node set", "bipartite"])
@pytest.mark.parametrize("biases", [True, False])
def test_edge_conv_max_eager_node_equals_the_reference(device, bipartite, biases):
    """:func:`~gnnx.ops.edge_mlp.edge_conv_max` in an eager call is one autograd node (the first
    layer's halves and the fused kernels or the CPU's loops, with its own backward): values
    and gradients of the plain-ATen reference, one node set or two."""
    from gnnx.ops.edge_mlp import edge_conv_max, edge_conv_max_reference

    torch.backends.cuda.matmul.allow_tf32 = False
    n_src, n_dst = (90, 70) if bipartite else (90, None)
    leaves, csr = _edge_conv_inputs(n_src, n_dst, 900, 6, 24, 20, device)
    x_src, x_dst = leaves[0], leaves[1] if bipartite else leaves[0]
    w1, b1, w2, b2 = leaves[2], leaves[3] if biases else None, leaves[4], leaves[5] if biases else None
    got = edge_conv_max(x_src, x_dst, w1, b1, w2, b2, csr)
    assert type(got.grad_fn).__name__ == "_EdgeConvMaxBackward"
    ref = edge_conv_max_reference(x_src, x_dst, w1, b1, w2, b2, csr)
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)
    wanted = [t for t in (x_src, x_dst, w1, b1, w2, b2) if t is not None]
    wanted = list({id(t): t for t in wanted}.values())
    probe = torch.randn_like(ref)
    for g, r in zip(torch.autograd.grad(got, wanted, probe), torch.autograd.grad(ref, wanted, probe)):
        torch.testing.assert_close(g, r, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("bipartite", [False, True], ids=["one node set", "bipartite"])
def test_edge_conv_max_eager_node_gradcheck(bipartite, monkeypatch):
    """First and second derivatives (a gradient penalty differentiates the reference) of the
    eager node in float64, over chunks of the fewest edges."""
    from gnnx.ops.edge_mlp import edge_conv_max

    monkeypatch.setattr(dispatch, "CACHE_CHUNK_BYTES", 0)
    leaves, csr = _edge_conv_inputs(40, 30 if bipartite else None, 300, 3, 4, 3, "cpu", torch.float64)
    inputs = leaves if bipartite else leaves[:1] + leaves[2:]

    def layer(*t):
        return edge_conv_max(*((t[0], t[0]) + t[1:] if not bipartite else t), csr)

    assert torch.autograd.gradcheck(layer, inputs)
    assert torch.autograd.gradgradcheck(layer, inputs)


def test_edge_cnn_on_the_cpu_runs_the_chunked_loops(monkeypatch):
    """EdgeCNN's eager CPU forward and backward take the chunked loops, on a bare
    ``edge_index`` and a ``Graph``, with the message-passing path's values and gradients
    (that path still serves hooks and explain mode)."""
    from gnnx.ops import edge_mlp

    chunked = []
    loop = edge_mlp._max_in_chunks
    monkeypatch.setattr(edge_mlp, "_max_in_chunks", lambda *args: chunked.append(1) or loop(*args))
    torch.manual_seed(0)
    x, edge_index = torch.randn(500, 16), torch.randint(500, (2, 6_000))
    model = EdgeCNN(16, 32, num_layers=2)
    out = model(x, edge_index)
    grads = torch.autograd.grad(out.square().sum(), list(model.parameters()))
    assert len(chunked) == 2
    for conv in model.convs:  # a message hook: the layers propagate, messages built
        conv.register_message_forward_hook(lambda module, inputs, output: None)
    expected = model(x, gnnx.Graph(edge_index, 500))
    assert len(chunked) == 2
    torch.testing.assert_close(out, expected)
    for got, want in zip(grads, torch.autograd.grad(expected.square().sum(), list(model.parameters()))):
        torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-4)  # float32 sums in another order


def test_edge_cnn_compiled_on_the_cpu_runs_the_chunked_ops(monkeypatch):
    """Compiled CPU calls run the chunked loops behind ``gnnx::edge_mlp_max_cpu`` (and its
    backward op): the eager values and gradients, no recompile at a second size; an exported
    program keeps plain ATen."""
    from gnnx.ops import edge_mlp

    chunked = []
    loop = edge_mlp._max_in_chunks
    monkeypatch.setattr(edge_mlp, "_max_in_chunks", lambda *args: chunked.append(1) or loop(*args))
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    torch.manual_seed(0)
    model = EdgeCNN(16, 32, num_layers=2)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for n, e in ((300, 3_000), (410, 5_000)):
        x, edge_index = torch.randn(n, 16), torch.randint(n, (2, e))
        graph = gnnx.Graph(edge_index, n)
        expected = model(x, graph)
        wanted = torch.autograd.grad(expected.square().sum(), list(model.parameters()))
        got = compiled(x, graph)
        torch.testing.assert_close(got, expected)
        for g, w in zip(torch.autograd.grad(got.square().sum(), list(model.parameters())), wanted):
            torch.testing.assert_close(g, w, rtol=1e-5, atol=1e-4)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    assert len(chunked) == 8  # two layers, eager and compiled, two sizes
    program = torch.export.export(model.eval(), (x, edge_index))
    assert "edge_mlp_max_cpu" not in str(program.graph)
    torch.testing.assert_close(program.module()(x, edge_index), model(x, edge_index))


def test_edge_cnn_gradient_penalty_on_the_cpu(monkeypatch):
    """A double backward (a gradient penalty) through EdgeCNN's chunked CPU path: the op's
    backward differentiates the reference where ``create_graph`` asks, and float64 weights'
    gradients are summed in float64 (they were summed in float32), so the result equals the
    message-passing path's to float64 rounding."""
    import gnnx.nn.conv.edge_conv as edge_conv

    gen = torch.Generator().manual_seed(5)
    x = torch.randn(100, 8, generator=gen, dtype=torch.float64, requires_grad=True)
    edge_index = torch.randint(100, (2, 600), generator=gen)
    model = EdgeCNN(8, 16, num_layers=2).double()

    def penalty_grads():
        out = model(x, edge_index)
        grad_x, = torch.autograd.grad(out.square().sum(), x, create_graph=True)
        return torch.autograd.grad(grad_x.square().sum(), [x, *model.parameters()])

    model(x, edge_index)  # the structure cached: the chunked path from here
    got = penalty_grads()
    monkeypatch.setattr(edge_conv, "chunked_available", lambda a: False)
    for mine, reference in zip(got, penalty_grads()):
        torch.testing.assert_close(mine, reference, rtol=1e-12, atol=1e-12)
