"""DNAConv equals PyG's (values, gradients of the history and parameters, keys, repr) with
heads, groups, edge weights, normalisation off and caching; compiles without recompiles and
exports with dynamic node and edge counts (its AOTInductor package:
tests/export/test_models_package.py)."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_compiles_once_and_exports, assert_same_outputs_and_gradients


def _history(num_nodes, seed=0, layers=3):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(num_nodes, (2, 4 * num_nodes), generator=gen)
    return (torch.randn(num_nodes, layers, 8, generator=gen), edge_index,
            torch.rand(edge_index.size(1), generator=gen) + 0.1)


@pytest.mark.parametrize("kwargs", [dict(), dict(heads=2, groups=2), dict(heads=4, groups=2, normalize=False),
                                    dict(groups=4, bias=False, add_self_loops=False), dict(cached=True)])
def test_equals_pygs(kwargs):
    torch.manual_seed(0)
    ours, theirs = nn.DNAConv(8, **kwargs), torch_geometric.nn.DNAConv(8, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, edge_index, edge_weight = _history(20)
    assert_same_outputs_and_gradients(ours, theirs, x, edge_index, edge_weight)
    if kwargs.get("normalize", True):
        assert_same_outputs_and_gradients(ours, theirs, x, edge_index)  # cached: the first call's weights, as PyG's
    else:  # PyG's fails here (None.view); gnnx's takes unit weights
        torch.testing.assert_close(ours(x, edge_index), ours(x, edge_index, torch.ones(edge_index.size(1))))


def test_needs_a_layer_history():
    with pytest.raises(ValueError, match=r"\[num_nodes, num_layers, channels\]"):
        nn.DNAConv(8)(torch.randn(5, 8), torch.tensor([[0], [1]]))


def test_compiles_without_recompiling_and_exports():
    nodes, edges = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2)
    assert_compiles_once_and_exports(nn.DNAConv(8, heads=2, groups=2), _history, [20, 31, 57],
                                     ({0: nodes}, {1: edges}, {0: edges}), 44)
