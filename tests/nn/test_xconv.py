"""XConv (PointCNN) equals PyG's (keys, repr, values and gradients, dilation, no features),
PyG's kNN (pyg-lib, not installable here) supplied by a test op over gnnx's; compiles without
recompiles and exports with a dynamic point count; a cloud too small for the kernel is named."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from gnnx import ops


def _pyg_knn(x, y, ptr_x, ptr_y, k, cosine, num_workers):
    """pyg-lib's ``knn`` signature: edges (query in y, neighbour in x), nearest first."""
    def batch(ptr, n):
        return None if ptr is None else torch.repeat_interleave(torch.arange(ptr.numel() - 1), ptr.diff(), output_size=n)

    return ops.knn(x, y, k, batch(ptr_x, x.size(0)), batch(ptr_y, y.size(0)), cosine=cosine, static=False)


@pytest.fixture
def pyg_knn(monkeypatch):
    if not hasattr(torch.ops.pyg, "knn"):
        library = torch.library.Library("pyg", "FRAGMENT")
        library.define("knn(Tensor x, Tensor y, Tensor? ptr_x, Tensor? ptr_y, int k, bool cosine, int num_workers) "
                       "-> Tensor")
        library.impl("knn", _pyg_knn, "CPU")
        test_xconv_library.append(library)  # kept alive for the session
    monkeypatch.setattr(torch_geometric.typing, "WITH_KNN", True)


test_xconv_library = []


def _clouds(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    return torch.randn(sum(sizes), 8, generator=gen), torch.rand(sum(sizes), 3, generator=gen), batch


@pytest.mark.parametrize("kwargs", [dict(), dict(dilation=2, hidden_channels=3, bias=False)])
@pytest.mark.parametrize("train", [True, False])
def test_equals_pygs(kwargs, train, pyg_knn):
    torch.manual_seed(0)
    ours = nn.XConv(8, 16, 3, 4, **kwargs)
    theirs = torch_geometric.nn.XConv(8, 16, 3, 4, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    ours.train(train), theirs.train(train)
    x, pos, batch = _clouds([20, 15, 25])
    results = []
    for module in (ours, theirs):
        x_in, pos_in = x.clone().requires_grad_(), pos.clone().requires_grad_()
        out = module(x_in, pos_in, batch)
        out.square().sum().backward()
        results.append([out, x_in.grad, pos_in.grad] + [p.grad for p in module.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(ours(x, pos), theirs(x, pos), rtol=1e-4, atol=1e-5)  # one cloud


def test_without_features_and_too_small_clouds():
    model = nn.XConv(0, 6, 3, 5, hidden_channels=2)  # positions only
    _, pos, batch = _clouds([9, 7])
    assert model(None, pos, batch).shape == (16, 6)
    with pytest.raises(ValueError, match="at least kernel_size \\* dilation = 10 points"):
        nn.XConv(4, 6, 3, 5, hidden_channels=2, dilation=2)(torch.randn(16, 4), pos, batch)


def test_compiles_without_recompiling_and_exports():
    model = nn.XConv(8, 16, 3, 4).eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[20, 15], [12, 30, 9], [40]]):
        inputs = _clouds(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)
    points = torch.export.Dim("points", min=8)
    program = torch.export.export(model, _clouds([20, 15]), dynamic_shapes=({0: points}, {0: points}, {0: points}))
    inputs = _clouds([11, 25, 9], seed=5)
    torch.testing.assert_close(program.module()(*inputs), model(*inputs), rtol=1e-4, atol=1e-5)
