"""MeshCNNConv against PyG's: keys, repr, the same draws for the same seed, values and gradients
(given kernels too); compiled without recompiles over mesh sizes, exported with a dynamic number
of mesh edges and run from an AOTInductor package; bad kernels and line graphs are named."""
import pytest
import torch
from torch.export import Dim

import gnnx.nn as G
from cases import assert_runners_equal_eager, export_and_package


def _mesh(num_edges, channels=5, seed=0):
    """Edge features and a line graph with four neighbours per mesh edge (random, as the layer
    reads them by position)."""
    g = torch.Generator().manual_seed(seed)
    neighbours = torch.randint(num_edges, (4 * num_edges,), generator=g)
    return (torch.randn(num_edges, channels, generator=g),
            torch.stack([neighbours, torch.arange(num_edges).repeat_interleave(4)]))


def _pair(kernels=None):
    P = pytest.importorskip("torch_geometric.nn")
    layers = []
    for lib in (P, G):
        torch.manual_seed(0)
        layers.append(lib.MeshCNNConv(5, 7, kernels() if kernels else None))
    return layers


@pytest.mark.parametrize("kernels", [None, "mlps"])
def test_equals_pyg(kernels):
    make = (lambda: torch.nn.ModuleList([torch.nn.Sequential(torch.nn.Linear(5, 7), torch.nn.Tanh()) for _ in range(5)])
            ) if kernels else None
    theirs, ours = _pair(make)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():  # the same draws
        assert torch.equal(ours.state_dict()[key], value), key
    x, edge_index = _mesh(9)
    x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
    expected, got = theirs(x_theirs, edge_index), ours(x_ours, edge_index)
    torch.testing.assert_close(got, expected)
    expected.square().sum().backward()
    got.square().sum().backward()
    torch.testing.assert_close(x_ours.grad, x_theirs.grad)
    for (name, param), other in zip(ours.named_parameters(), theirs.parameters()):
        torch.testing.assert_close(param.grad, other.grad, msg=lambda m: f"{name}: {m}")


def test_compiles_without_recompiling():
    layer = G.MeshCNNConv(5, 7)
    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    for i, size in enumerate([6, 11, 30]):
        x, edge_index = _mesh(size, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, edge_index), layer(x, edge_index))


@pytest.mark.slow
def test_exported_and_packaged_equal_eager(tmp_path):
    layer = G.MeshCNNConv(5, 7).eval()
    edges = Dim("mesh_edges", min=2)
    program, runner = export_and_package(layer, _mesh(8), ({0: edges}, {1: 4 * edges}), str(tmp_path / "mesh.pt2"))
    for seed, size in enumerate([3, 40]):
        assert_runners_equal_eager(lambda *a: (layer(*a),), (lambda *a: (program.module()(*a),), lambda *a: (runner(*a),)),
                                   _mesh(size, seed=seed + 1))


def test_bad_kernels_and_line_graphs_are_named():
    with pytest.raises(ValueError, match="exactly 5"):
        G.MeshCNNConv(5, 7, torch.nn.ModuleList([torch.nn.Linear(5, 7)] * 4))
    with pytest.raises(ValueError, match=r"kernels\[2\] has input width 4, expected 5"):
        G.MeshCNNConv(5, 7, torch.nn.ModuleList([torch.nn.Linear(5, 7)] * 2 + [torch.nn.Linear(4, 7)] * 3))
    with pytest.raises(ValueError, match=r"kernels\[0\] has output width 6"):
        G.MeshCNNConv(5, 7, torch.nn.ModuleList([torch.nn.Linear(5, 6)] * 5))
    with pytest.warns(UserWarning, match="kernel\\[0\\] does not have attribute"):
        G.MeshCNNConv(5, 7, torch.nn.ModuleList([torch.nn.Tanh()] + [torch.nn.Linear(5, 7)] * 4))
    x, edge_index = _mesh(4)
    with pytest.raises(ValueError, match="multiple of 4"):
        G.MeshCNNConv(5, 7)(x, edge_index[:, :-1])
