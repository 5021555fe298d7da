"""QFormer against PyG's: keys, repr, the same draws for the same seed, values and gradients;
compiled without recompiles over batch and sequence sizes and exported with both dynamic."""
import pytest
import torch
from torch.export import Dim

import gnnx.nn.attention as GA


def _pair(dropout=0.0):
    PA = pytest.importorskip("torch_geometric.nn.attention")
    layers = []
    for lib in (PA, GA):
        torch.manual_seed(0)
        layers.append(lib.QFormer(16, 32, 8, num_heads=4, num_layers=2, dropout=dropout))
    return layers


def test_equals_pyg():
    theirs, ours = _pair()
    assert repr(ours) == repr(theirs) == "QFormer(num_heads=4, num_layers=2)"
    assert list(ours.state_dict()) == list(theirs.state_dict())
    for key, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    x = torch.randn(3, 5, 16)
    for mode in ("train", "eval"):
        getattr(theirs, mode)(), getattr(ours, mode)()
        x_ours, x_theirs = x.clone().requires_grad_(), x.clone().requires_grad_()
        expected, got = theirs(x_theirs), ours(x_ours)
        torch.testing.assert_close(got, expected)
        expected.square().sum().backward()
        got.square().sum().backward()
        torch.testing.assert_close(x_ours.grad, x_theirs.grad)


def test_compiles_and_exports_with_dynamic_batch_and_sequence():
    _, layer = _pair()
    layer.eval()
    compiled = torch.compile(layer, fullgraph=True, dynamic=True)
    with torch.no_grad():
        for i, (batch, length) in enumerate([(2, 3), (4, 7), (3, 11)]):
            x = torch.randn(batch, length, 16)
            with torch._dynamo.config.patch(error_on_recompile=i == 2):
                torch.testing.assert_close(compiled(x), layer(x), rtol=1e-4, atol=1e-5)
    program = torch.export.export(layer, (torch.randn(2, 3, 16),),
                                  dynamic_shapes=({0: Dim("batch"), 1: Dim("length")},))
    x = torch.randn(5, 9, 16)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x), layer(x), rtol=1e-4, atol=1e-5)
