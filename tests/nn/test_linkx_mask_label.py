"""LINKX (and its SparseLinear) and MaskLabel against PyG's: keys and repr, values and
gradients with PyG's weights (MaskLabel: the same weights for the same seed); compiled without
recompiles as the edge (or node) count changes, and exported."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import assert_compiles_once_and_exports

P = pytest.importorskip("torch_geometric.nn")
NODES = 30


def _graph(edges, seed=0, weighted=False):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(NODES, 8, generator=gen)
    edge_index = torch.randint(NODES, (2, edges), generator=gen)
    return x, edge_index, (torch.rand(edges, generator=gen) if weighted else None)


def _pair(cls, *args, **kwargs):
    models = []
    for M in (P, G):
        torch.manual_seed(0)
        models.append(getattr(M, cls)(*args, **kwargs))
    return models


def _assert_same_state(ours, pyg):
    assert list(ours.state_dict()) == list(pyg.state_dict())
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key


@pytest.mark.parametrize("kwargs", [{}, {"num_edge_layers": 2, "num_node_layers": 2}, {"dropout": 0.3}])
@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("with_x", [True, False])
def test_linkx_equal_to_pyg(kwargs, weighted, with_x):
    pyg, ours = _pair("LINKX", NODES, 8, 16, 4, 2, **kwargs)
    assert repr(ours) == repr(pyg) and repr(ours.edge_lin) == repr(pyg.edge_lin)
    ours.load_state_dict(pyg.state_dict())  # the MLPs draw their initial weights in another order
    _assert_same_state(ours, pyg)
    x, edge_index, edge_weight = _graph(120, weighted=weighted)
    x = x if with_x else None
    outs = []
    for model in (pyg, ours):
        # dropout draws its masks in another order than PyG's MLP (which also draws at p = 0): eval
        model.train(not kwargs.get("dropout"))
        out = model(x, edge_index, edge_weight)
        out.square().sum().backward()
        outs.append(out)
    torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for (name, p), q in zip(ours.named_parameters(), pyg.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-5, msg=name)


def test_linkx_compiles_once_and_exports():
    _, model = _pair("LINKX", NODES, 8, 16, 4, 2, num_edge_layers=2)
    model.eval()

    def inputs(edges, seed=0):
        x, edge_index, edge_weight = _graph(edges, seed, weighted=True)
        return x, edge_index, edge_weight

    e = torch.export.Dim("e", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=(40, 90, 150), export_size=310,
                                     dynamic_shapes=(None, {1: e}, {0: e}))


@pytest.mark.parametrize("method", ["add", "concat"])
def test_mask_label_equal_to_pyg(method):
    pyg, ours = _pair("MaskLabel", 5, 8, method=method)
    assert repr(ours) == repr(pyg) == "MaskLabel()"
    _assert_same_state(ours, pyg)
    x, _, _ = _graph(1)
    x.requires_grad_()
    y = torch.randint(5, (NODES,), generator=torch.Generator().manual_seed(1))
    mask = torch.rand(NODES, generator=torch.Generator().manual_seed(2)) < 0.4
    for m in (mask, mask.nonzero().view(-1)):  # boolean or index mask
        expected, got = pyg(x, y, m), ours(x, y, m)
        assert torch.equal(got, expected)
        assert torch.equal(torch.autograd.grad(got.sum(), x)[0], torch.autograd.grad(expected.sum(), x)[0])
    # unmasked nodes' labels are never read (here: -1)
    assert torch.equal(ours(x, torch.where(mask, y, -1), mask), expected)
    for M in (P, G):
        torch.manual_seed(4)
        kept = M.MaskLabel.ratio_mask(mask, 0.5)
        if M is P:
            expected_kept = kept
    assert torch.equal(kept, expected_kept) and not (kept & ~mask).any()


def test_mask_label_compiles_once_and_exports():
    _, model = _pair("MaskLabel", 5, 8, method="concat")

    def inputs(n, seed=0):
        gen = torch.Generator().manual_seed(seed)
        return torch.randn(n, 8, generator=gen), torch.randint(5, (n,), generator=gen), torch.rand(n, generator=gen) < 0.5

    n = torch.export.Dim("n", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=(6, 13, 29), export_size=57,
                                     dynamic_shapes=({0: n}, {0: n}, {0: n}))


CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])


@pytest.mark.parametrize("device", [CUDA])
def test_linkx_and_mask_label_on_the_device(device):
    torch.backends.cuda.matmul.allow_tf32 = False
    _, model = _pair("LINKX", NODES, 8, 16, 4, 2, num_edge_layers=2)
    x, edge_index, edge_weight = _graph(120, weighted=True)
    expected = model(x, edge_index, edge_weight)
    model = model.to(device)
    got = model(x.to(device), edge_index.to(device), edge_weight.to(device))
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-4, atol=1e-5)
    _, label = _pair("MaskLabel", 5, 8)
    y, mask = torch.randint(5, (NODES,)), torch.rand(NODES) < 0.5
    expected = label(x, y, mask)
    torch.testing.assert_close(label.to(device)(x.to(device), y.to(device), mask.to(device)).cpu(), expected)
