"""gnnx.nn.Linear against PyG's Linear: the same parameters for the same seed under every
initializer, lazy widths (first call, loaded state_dict, deepcopy), repr and state_dict keys;
compiled without recompiles and exported; bad initializers named."""
import copy

import pytest
import torch

import gnnx.nn as G
from gnnx.nn.dense import Linear as DenseLinear
from tests.cases import assert_compiles_once_and_exports

P = pytest.importorskip("torch_geometric.nn")

INITIALIZERS = [(w, b) for w in (None, "glorot", "uniform", "kaiming_uniform") for b in (None, "zeros")]


@pytest.mark.parametrize("weight_initializer,bias_initializer", INITIALIZERS)
@pytest.mark.parametrize("in_channels", [16, -1])
def test_same_parameters_and_outputs_as_pyg(in_channels, weight_initializer, bias_initializer):
    x = torch.randn(7, 3, 16)
    layers = []
    for M in (P, G):
        torch.manual_seed(0)
        layer = M.Linear(in_channels, 32, weight_initializer=weight_initializer, bias_initializer=bias_initializer)
        layer(x)  # a lazy layer initialises here, drawing from the same seed
        layers.append(layer)
    pyg, ours = layers
    assert repr(ours) == repr(pyg) == "Linear(16, 32, bias=True)"
    assert list(ours.state_dict()) == list(pyg.state_dict()) == ["weight", "bias"]
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    assert torch.equal(ours(x), pyg(x))


def test_without_bias_and_reset():
    for M in (P, G):
        torch.manual_seed(1)
        layer = M.Linear(8, 4, bias=False)
        torch.manual_seed(2)
        layer.reset_parameters()
        if M is P:
            expected = layer.weight.detach().clone()
    assert layer.bias is None and repr(layer) == "Linear(8, 4, bias=False)"
    assert torch.equal(layer.weight, expected)


def test_lazy_width_from_a_loaded_state_dict_and_deepcopy():
    pyg = P.Linear(12, 5)
    ours = G.Linear(-1, 5)
    assert repr(ours) == "Linear(-1, 5, bias=True)"
    twin = copy.deepcopy(ours)  # still lazy: materialises on its own first call
    ours.load_state_dict(pyg.state_dict())
    assert ours.in_channels == ours.in_features == 12 and repr(ours) == "Linear(12, 5, bias=True)"
    x = torch.randn(4, 12)
    assert torch.equal(ours(x), pyg(x))
    assert twin(torch.randn(2, 3)).shape == (2, 5) and twin.in_channels == 3
    # and back: PyG's lazy Linear takes ours
    theirs = P.Linear(-1, 5)
    theirs.load_state_dict(ours.state_dict())
    assert torch.equal(theirs(x), ours(x))


def test_is_a_torch_linear_and_importable_from_dense():
    assert DenseLinear is G.Linear
    layer = G.Linear(6, 3)
    assert isinstance(layer, torch.nn.Linear) and (layer.in_features, layer.out_features) == (6, 3)


@pytest.mark.parametrize("name,value", [("weight_initializer", "xavier"), ("bias_initializer", "ones")])
def test_unknown_initializer_is_named(name, value):
    with pytest.raises(ValueError, match=f"{name} '{value}'"):
        G.Linear(4, 4, **{name: value})


@pytest.mark.parametrize("in_channels", [10, -1])
def test_compiles_once_and_exports(in_channels):
    layer = G.Linear(in_channels, 6, weight_initializer="glorot")
    layer(torch.randn(2, 10))  # a lazy layer: its width first, as for torch.nn.LazyLinear

    def inputs(n, seed=0):
        return (torch.randn(n, 10, generator=torch.Generator().manual_seed(seed)),)

    assert_compiles_once_and_exports(layer, inputs, sizes=(5, 9, 17), export_size=33,
                                     dynamic_shapes=({0: torch.export.Dim("n", min=2)},))


def test_compiling_a_lazy_layer_initialises_it_eagerly():
    layer = G.Linear(-1, 4)
    compiled = torch.compile(layer, fullgraph=True)
    x = torch.randn(3, 7)
    out = compiled(x)
    assert layer.in_channels == 7 and torch.allclose(out, layer(x))


def test_hetero_dict_linear_takes_pyg_keyword_arguments():
    types, widths = ["paper", "author"], {"paper": 8, "author": 4}
    layers = []
    for M in (P, G):
        torch.manual_seed(0)
        layers.append(M.HeteroDictLinear(widths, 6, types=types, weight_initializer="glorot", bias_initializer="zeros"))
    pyg, ours = layers
    for key, value in pyg.state_dict().items():
        assert torch.equal(ours.state_dict()[key], value), key
    assert repr(ours) == repr(pyg)
