"""PMLP against PyG's: the same weights for the same seed, keys and repr; training (MLP) and
inference (with message passing) outputs and gradients; compiled without recompiles over
graph sizes and exported in eval mode; the missing edge_index named."""
import pytest
import torch

import gnnx.nn as G
from tests.cases import IN, assert_compiles_once_and_exports, random_graph

P = pytest.importorskip("torch_geometric.nn")


def _pair(**kwargs):
    models = []
    for M in (P, G):
        torch.manual_seed(0)
        models.append(M.PMLP(IN, 16, 3, **kwargs))
    return models


@pytest.mark.parametrize("kwargs", [{"num_layers": 3}, {"num_layers": 2, "norm": False, "bias": False},
                                    {"num_layers": 4, "dropout": 0.5}])
def test_equal_to_pyg(kwargs):
    pyg, ours = _pair(**kwargs)
    assert repr(ours) == repr(pyg)
    assert list(ours.state_dict()) == list(pyg.state_dict())
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    x, edge_index = random_graph(40, 160)[:2]
    for training in (True, False):
        outs = []
        for model in (pyg, ours):
            model.train(training)
            torch.manual_seed(1)  # the same dropout masks
            out = model(x, edge_index)
            out.square().sum().backward()
            outs.append(out)
        torch.testing.assert_close(outs[1], outs[0], rtol=1e-5, atol=1e-6)
    for p, q in zip(ours.parameters(), pyg.parameters()):
        torch.testing.assert_close(p.grad, q.grad, rtol=1e-4, atol=1e-4)  # biases before a batch norm: ~0


def test_inference_needs_edge_index():
    _, model = _pair(num_layers=2)
    model(torch.randn(5, IN))  # training: an MLP
    with pytest.raises(ValueError, match="'edge_index' needs to be present during inference in 'PMLP'"):
        model.eval()(torch.randn(5, IN))


def test_compiles_once_and_exports():
    _, model = _pair(num_layers=3)
    model.eval()

    def inputs(n, seed=0):
        return random_graph(n, 4 * n, seed=seed)[:2]

    n, e = torch.export.Dim("n", min=2), torch.export.Dim("e", min=2)
    assert_compiles_once_and_exports(model, inputs, sizes=(20, 37, 61), export_size=130,
                                     dynamic_shapes=({0: n}, {1: e}))
