"""Static graphs as PyG's: x of shape [B, N, F] with one edge_index shared by all B (the
fused SpMM runs once over [N, B * F]); equal to PyG, compiled equal to eager."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")

B, N, F = 3, 10, 8
LAYERS = {
    "GCNConv": {}, "SAGEConv": {}, "GraphConv": {}, "ChebConv": {"K": 2}, "LEConv": {}, "TAGConv": {},
    "SGConv": {}, "ClusterGCNConv": {}, "ResGatedGraphConv": {}, "MFConv": {}, "ARMAConv": {},
    "SSGConv": {"alpha": 0.1}, "GINConv": None, "EdgeConv": None, "APPNP": None, "SimpleConv": None,
}


def _pair(name):
    if name == "GINConv":
        return P.GINConv(torch.nn.Linear(F, 16)), G.GINConv(torch.nn.Linear(F, 16))
    if name == "EdgeConv":
        return P.EdgeConv(torch.nn.Linear(2 * F, 16)), G.EdgeConv(torch.nn.Linear(2 * F, 16))
    if name == "APPNP":
        return P.APPNP(2, 0.1), G.APPNP(2, 0.1)
    if name == "SimpleConv":
        return P.SimpleConv(), G.SimpleConv()
    return getattr(P, name)(F, 16, **LAYERS[name]), getattr(G, name)(F, 16, **LAYERS[name])


def _inputs(seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(B, N, F, generator=g, requires_grad=True), torch.randint(0, N, (2, 30), generator=g)


@pytest.mark.porting("static graph [B, N, F]")
@pytest.mark.parametrize("name", LAYERS)
def test_static_graph_equals_pyg(name):
    pyg, ours = _pair(name)
    ours.load_state_dict(pyg.state_dict())
    x, ei = _inputs()
    expected, out = pyg(x, ei), ours(x, ei)
    assert out.shape[:2] == (B, N)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)
    grad_pyg, = torch.autograd.grad(expected.sum(), x)
    grad_ours, = torch.autograd.grad(out.sum(), x)
    torch.testing.assert_close(grad_ours, grad_pyg, atol=1e-5, rtol=1e-5)
    # each graph of the batch alone gives its own row
    torch.testing.assert_close(out[1], ours(x[1], ei), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["GCNConv", "SAGEConv"])
def test_static_graph_compiles(name):
    _, ours = _pair(name)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for seed in (0, 1):
        x, ei = _inputs(seed)
        torch.testing.assert_close(compiled(x, ei), ours(x, ei), atol=1e-5, rtol=1e-5)
