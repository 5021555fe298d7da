"""SplineConv equals PyG's layer (keys, repr, values, gradients of x, weights and the
pseudo-coordinates) with pyg-lib's kernels (not installable here) supplied by a per-edge loop
transcription of their definition (below, independent of gnnx's vectorised basis); open and
closed splines, degrees 1-3, 1-3 dimensions; compiles without recompiles and exports."""
import contextlib
import math

import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_compiles_once_and_exports
from gnnx.nn.conv.spline import spline_basis

PIECES = {1: [lambda v: 1 - v, lambda v: v],
          2: [lambda v: 0.5 * v * v - v + 0.5, lambda v: -v * v + v + 0.5, lambda v: 0.5 * v * v],
          3: [lambda v: (1 - v) ** 3 / 6, lambda v: (3 * v ** 3 - 6 * v * v + 4) / 6,
              lambda v: (-3 * v ** 3 + 3 * v * v + 3 * v + 1) / 6, lambda v: v ** 3 / 6]}


def reference_basis(pseudo, kernel_size, is_open_spline, degree):
    """pyg-lib's loops: per edge e and slot s, per dimension d the piece k_mod of the scaled
    coordinate's fraction, and the wrapped grid index."""
    edges, dims = pseudo.shape
    slots = (degree + 1) ** dims
    basis, index = [], []
    for e in range(edges):
        for s in range(slots):
            k, wi, offset, b = s, 0, 1, pseudo.new_ones(())
            for d in range(dims):
                k_mod, k = k % (degree + 1), k // (degree + 1)
                v = pseudo[e, d] * (int(kernel_size[d]) - degree * int(is_open_spline[d]))
                wi += ((int(v.detach()) + k_mod) % int(kernel_size[d])) * offset
                offset *= int(kernel_size[d])
                b = b * PIECES[degree][k_mod](v - math.floor(float(v)))
            basis.append(b)
            index.append(wi)
    return torch.stack(basis).view(edges, slots), torch.tensor(index).view(edges, slots)


def reference_weighting(x, weight, basis, weight_index):
    return torch.stack([sum(basis[e, s] * (x[e] @ weight[weight_index[e, s]]) for s in range(basis.size(1)))
                        for e in range(x.size(0))])


@pytest.fixture
def pyg_spline_kernels(monkeypatch):
    module = __import__("torch_geometric.nn.conv.spline_conv", fromlist=["spline_basis"])
    monkeypatch.setattr(module, "spline_basis", reference_basis)
    monkeypatch.setattr(module, "spline_weighting", reference_weighting)


def _graph(num_nodes=12, dim=2, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, 3 * num_nodes), generator=gen)
    return torch.randn(num_nodes, 4, generator=gen), edge_index, torch.rand(edge_index.size(1), dim, generator=gen)


@pytest.mark.parametrize("kwargs", [dict(dim=2, kernel_size=3), dict(dim=2, kernel_size=[4, 3], degree=2),
                                    dict(dim=3, kernel_size=3, degree=3, is_open_spline=False),
                                    dict(dim=1, kernel_size=5, aggr="add", root_weight=False, bias=False)])
def test_equals_pygs(kwargs, pyg_spline_kernels):
    torch.manual_seed(0)
    ours, theirs = nn.SplineConv(4, 3, **kwargs), torch_geometric.nn.SplineConv(4, 3, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, edge_index, pseudo = _graph(dim=kwargs["dim"])
    results = []
    for module in (ours, theirs):
        x_in, pseudo_in = x.clone().requires_grad_(), pseudo.clone().requires_grad_()
        with pytest.warns(UserWarning) if module is theirs else contextlib.nullcontext():  # PyG warns on CPU
            out = module(x_in, edge_index, pseudo_in)
        out.square().sum().backward()
        results.append([out, x_in.grad, pseudo_in.grad] + [p.grad for p in module.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("degree", [1, 2, 3])
def test_basis_sums_to_one_inside_the_grid(degree):
    pseudo = torch.rand(50, 2)
    basis, index = spline_basis(pseudo, torch.tensor([5, 4]), torch.tensor([1, 0], dtype=torch.uint8), degree)
    torch.testing.assert_close(basis.sum(1), torch.ones(50))  # a partition of unity
    assert int(index.min()) >= 0 and int(index.max()) < 20


def test_lazy_and_bad_inputs():
    conv = nn.SplineConv(-1, 3, dim=2, kernel_size=3)
    x, edge_index, pseudo = _graph()
    assert conv(x, edge_index, pseudo).shape == (12, 3) and conv.weight.shape == (9, 4, 3)
    with pytest.raises(ValueError, match="2 pseudo-coordinates per edge"):
        conv(x, edge_index, pseudo[:, :1])
    with pytest.raises(ValueError, match="degree must be 1, 2 or 3"):
        nn.SplineConv(4, 3, dim=2, kernel_size=3, degree=4)


def test_compiles_without_recompiling_and_exports():
    nodes, edges = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2)
    assert_compiles_once_and_exports(nn.SplineConv(4, 3, dim=2, kernel_size=[3, 4], degree=2), _graph, [12, 21, 33],
                                     ({0: nodes}, {1: edges}, {0: edges}), 27)
