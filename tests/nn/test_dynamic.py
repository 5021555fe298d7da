"""DynamicEdgeConv and GravNetConv: equal to PyG (whose kNN op needs pyg-lib, so the test
registers a brute-force ``pyg::knn`` for it), compile without recompiles, export with a
dynamic number of points, and run without any compiled extension."""
import pytest
import torch
from torch.export import Dim

from gnnx.nn import DynamicEdgeConv, GravNetConv

pyg_conv = pytest.importorskip("torch_geometric.nn.conv")


def _brute_knn(x, y, ptr_x, ptr_y, k, cosine, num_workers):
    # pyg::knn semantics, brute force: for each query y_i its k nearest x_j of the same batch
    # (fewer where the batch has fewer), rows [y_i, x_j].
    def batch_of(ptr, n):
        return torch.zeros(n, dtype=torch.long) if ptr is None else \
            torch.repeat_interleave(torch.arange(ptr.numel() - 1), ptr.diff())
    dist = torch.cdist(y, x).pow(2)
    dist = dist.masked_fill(batch_of(ptr_y, y.size(0)).view(-1, 1) != batch_of(ptr_x, x.size(0)).view(1, -1),
                            float("inf"))
    values, nbr = dist.topk(min(k, x.size(0)), dim=1, largest=False)
    query = torch.arange(y.size(0)).view(-1, 1).expand_as(nbr)
    keep = ~torch.isinf(values)
    return torch.stack([query[keep], nbr[keep]])


@pytest.fixture
def pyg_knn(monkeypatch):
    import torch_geometric.typing as pyg_typing

    if not hasattr(torch.ops.pyg, "knn"):
        lib = torch.library.Library("pyg", "FRAGMENT")
        lib.define("knn(Tensor x, Tensor y, Tensor? ptr_x, Tensor? ptr_y, int k, bool cosine, int num_workers) -> Tensor")
        lib.impl("knn", _brute_knn, "CPU")
        pytest.pyg_lib_shim = lib  # keep the registration alive
    monkeypatch.setattr(pyg_typing, "WITH_KNN", True, raising=False)


def _mlp(a, b):
    return torch.nn.Sequential(torch.nn.Linear(a, b), torch.nn.ReLU(), torch.nn.Linear(b, b))


def test_dynamic_edge_conv_and_gravnet_match_pyg(pyg_knn):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(60, 6, generator=gen)
    torch.manual_seed(0)
    ours = DynamicEdgeConv(_mlp(12, 16), k=5)
    try:
        theirs = pyg_conv.DynamicEdgeConv(_mlp(12, 16), k=5)
        g_theirs = pyg_conv.GravNetConv(6, 16, 3, 8, k=5)
    except ImportError as err:
        pytest.skip(f"PyG refuses to construct: {err}")
    theirs.load_state_dict(ours.state_dict())
    g_ours = GravNetConv(6, 16, 3, 8, k=5)
    g_theirs.load_state_dict(g_ours.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(ours(x), theirs(x), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(g_ours(x), g_theirs(x), rtol=1e-5, atol=1e-5)


def test_batch_keeps_neighbours_inside_each_event():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(40, 4, generator=gen)
    batch = torch.arange(2).repeat_interleave(20)
    conv = GravNetConv(4, 8, 2, 4, k=4)
    together = conv(x, batch)
    torch.testing.assert_close(together[:20], conv(x[:20]), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(together[20:], conv(x[20:]), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: DynamicEdgeConv(_mlp(8, 16), k=4), lambda: GravNetConv(4, 16, 3, 8, k=4)])
def test_compile_and_export_with_dynamic_point_count(make):
    conv = make().eval()
    width = 4
    sizes = [(30, width), (45, width), (71, width)]
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    for i, shape in enumerate(sizes):
        x = torch.randn(*shape)
        if i == 2:
            with torch._dynamo.config.patch(error_on_recompile=True):
                out = compiled(x)
        else:
            out = compiled(x)
        torch.testing.assert_close(out, conv(x), rtol=1e-4, atol=1e-5)
    ep = torch.export.export(conv, (torch.randn(20, width),), dynamic_shapes=({0: Dim("num_points", min=8)},))
    x = torch.randn(90, width)
    torch.testing.assert_close(ep.module()(x), conv(x), rtol=1e-4, atol=1e-5)


def test_bipartite_inputs_match_pyg(pyg_knn):
    """(x_src, x_dst) with per-set batches: each destination's k nearest sources, as PyG's
    knn(x[0], x[1], k, b[0], b[1]); the second event has 3 sources, fewer than k."""
    gen = torch.Generator().manual_seed(4)
    x_src, x_dst = torch.randn(23, 6, generator=gen), torch.randn(15, 6, generator=gen)
    b_src = torch.cat([torch.zeros(20, dtype=torch.long), torch.ones(3, dtype=torch.long)])
    b_dst = torch.cat([torch.zeros(9, dtype=torch.long), torch.ones(6, dtype=torch.long)])
    ours, g_ours = DynamicEdgeConv(_mlp(12, 16), k=5), GravNetConv(6, 16, 3, 8, k=5)
    try:
        theirs, g_theirs = pyg_conv.DynamicEdgeConv(_mlp(12, 16), k=5), pyg_conv.GravNetConv(6, 16, 3, 8, k=5)
    except ImportError as err:
        pytest.skip(f"PyG refuses to construct: {err}")
    theirs.load_state_dict(ours.state_dict())
    g_theirs.load_state_dict(g_ours.state_dict())
    with torch.no_grad():
        for a, b in ((ours, theirs), (g_ours, g_theirs)):
            out = a((x_src, x_dst), (b_src, b_dst))
            assert out.shape[0] == 15
            torch.testing.assert_close(out, b((x_src, x_dst), (b_src, b_dst)), rtol=1e-5, atol=1e-5)
