"""Lazy in_channels=-1 as PyG's: shapes read on the first call or from a loaded state_dict,
PyG's repr and keys, equal outputs; gnnx.compile materialises with one eager call."""
import copy
import io

import pytest
import torch

import gnnx
import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")

N, F = 10, 8
LAYERS = {
    "GCNConv": {}, "SAGEConv": {}, "GraphConv": {}, "GATConv": {"heads": 2}, "GATv2Conv": {"heads": 2},
    "TransformerConv": {"heads": 2}, "ResGatedGraphConv": {}, "LEConv": {}, "SGConv": {}, "ChebConv": {"K": 2},
    "ClusterGCNConv": {}, "MFConv": {}, "GeneralConv": {}, "FiLMConv": {}, "FeaStConv": {}, "SuperGATConv": {},
    "ARMAConv": {}, "SSGConv": {"alpha": 0.1}, "EGConv": {}, "GENConv": {}, "GMMConv": {"dim": 4, "kernel_size": 2},
    "PointTransformerConv": {},
}


def _inputs(name, seed=0):
    g = torch.Generator().manual_seed(seed)
    x, ei = torch.randn(N, F, generator=g), torch.randint(0, N, (2, 30), generator=g)
    if name == "GMMConv":
        return x, ei, torch.rand(30, 4, generator=g)
    if name == "PointTransformerConv":
        return x, torch.randn(N, 3, generator=g), ei
    return x, ei


@pytest.mark.porting("lazy in_channels=-1")
@pytest.mark.parametrize("name", LAYERS)
def test_lazy_layer_equals_pyg(name):
    args = _inputs(name)
    pyg = getattr(P, name)(-1, 16, **LAYERS[name])
    expected = pyg(*args)
    ours = getattr(G, name)(-1, 16, **LAYERS[name])
    assert repr(ours) == repr(pyg)
    ours.load_state_dict(pyg.state_dict())  # materialised from the loaded shapes
    assert list(ours.state_dict()) == list(pyg.state_dict())
    torch.testing.assert_close(ours(*args), expected, atol=1e-5, rtol=1e-5)
    fresh = getattr(G, name)(-1, 16, **LAYERS[name])
    assert fresh(*args).shape == expected.shape  # materialised by the first call


@pytest.mark.parametrize("name", ["GCN", "GraphSAGE", "GIN", "GAT"])
def test_lazy_models_equal_pyg(name):
    x, ei = _inputs(name)
    pyg = getattr(P, name)(-1, 16, 2)
    pyg(x, ei)
    ours = getattr(G, name)(-1, 16, 2)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)


def test_lazy_mlp():
    x, _ = _inputs("MLP")
    pyg, ours = P.MLP([-1, 16, 4]).eval(), G.MLP([-1, 16, 4]).eval()
    pyg(x)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x), pyg(x))


def test_gnnx_compile_materialises_lazy_parameters():
    x, ei = _inputs("GCNConv")
    conv = G.GCNConv(-1, 16)
    compiled = gnnx.compile(conv)
    out = compiled(x, ei)
    assert conv.lin.weight.shape == (16, F)
    torch.testing.assert_close(out, conv(x, ei), atol=1e-5, rtol=1e-5)


def test_lazy_raw_weights_copy_and_pickle():
    x, ei = _inputs("ARMAConv")
    conv = G.ARMAConv(-1, 16)
    clone = copy.deepcopy(conv)
    clone(x, ei)
    assert clone.init_weight.shape == (1, F, 16)
    assert isinstance(conv.init_weight, torch.nn.parameter.UninitializedParameter)  # the copy's own
    buffer = io.BytesIO()
    torch.save(G.GMMConv(-1, 16, dim=2, kernel_size=2), buffer)
