"""Bipartite (x_src, x_dst) inputs, with different widths and counts, equal to PyG's in every
layer that takes them (DynamicEdgeConv/GravNetConv: tests/nn/test_dynamic.py; SimpleConv,
PointNetConv: tests/nn/test_pyg_contract.py)."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")

N_SRC, N_DST, E = 9, 5, 20
LAYERS = {
    "SAGEConv": ((8, 6), 16, {}), "GraphConv": ((8, 6), 16, {}),
    "GATConv": ((8, 6), 4, {"heads": 2, "add_self_loops": False}),
    "GATv2Conv": ((8, 6), 4, {"heads": 2, "add_self_loops": False}),
    "TransformerConv": ((8, 6), 4, {"heads": 2}), "ResGatedGraphConv": ((8, 6), 16, {}),
    "LEConv": ((8, 6), 16, {}), "MFConv": ((8, 6), 16, {}), "GeneralConv": ((8, 6), 16, {}),
    "FiLMConv": ((8, 6), 16, {}), "GENConv": ((8, 6), 16, {}), "CGConv": ((8, 6), None, {}),
    "GMMConv": ((8, 6), 16, {"dim": 3, "kernel_size": 2}),
    "PointTransformerConv": ((8, 6), 16, {"add_self_loops": False}),
}


@pytest.mark.porting("bipartite")
@pytest.mark.parametrize("name", LAYERS)
def test_bipartite_equals_pyg(name):
    g = torch.Generator().manual_seed(0)
    ei = torch.stack([torch.randint(0, N_SRC, (E,), generator=g), torch.randint(0, N_DST, (E,), generator=g)])
    x = (torch.randn(N_SRC, 8, generator=g), torch.randn(N_DST, 6, generator=g))
    channels, out, kwargs = LAYERS[name]
    args = (channels,) if out is None else (channels, out)
    pyg, ours = getattr(P, name)(*args, **kwargs), getattr(G, name)(*args, **kwargs)
    ours.load_state_dict(pyg.state_dict())
    inputs = (x, ei)
    if name == "GMMConv":
        inputs = (x, ei, torch.rand(E, 3, generator=g))
    if name == "PointTransformerConv":
        inputs = (x, (torch.randn(N_SRC, 3, generator=g), torch.randn(N_DST, 3, generator=g)), ei)
    out = ours(*inputs)
    assert out.size(0) == N_DST
    torch.testing.assert_close(out, pyg(*inputs), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", [n for n in LAYERS if n not in ("GMMConv", "PointTransformerConv", "CGConv")])
def test_bipartite_layer_given_one_tensor_equals_pyg(name):
    """A layer built for pairs (separate source / destination weights) called with one
    tensor projects it with each weight, as PyG (gnnx GATConv once reused the source one)."""
    g = torch.Generator().manual_seed(1)
    x, ei = torch.randn(N_SRC, 8, generator=g), torch.randint(0, N_SRC, (2, E), generator=g)
    _, out, kwargs = LAYERS[name]
    pyg, ours = getattr(P, name)((8, 8), out, **kwargs), getattr(G, name)((8, 8), out, **kwargs)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
