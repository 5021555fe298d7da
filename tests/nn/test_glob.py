"""PyG's deprecated glob names: GlobalAttention (keys, values, the (x, batch, size) call) and
global_sort_pool equal to PyG's, with PyG's deprecation warning."""
import pytest
import torch

import gnnx.nn as G
from gnnx.nn import glob

P = pytest.importorskip("torch_geometric.nn")


def test_global_attention_equal_to_pyg():
    modules = []
    for M in (P, G):
        torch.manual_seed(0)
        with pytest.warns(UserWarning, match="'nn.glob.GlobalAttention' is deprecated"):
            modules.append(M.GlobalAttention(torch.nn.Linear(8, 1), torch.nn.Linear(8, 4)))
    pyg, ours = modules
    assert list(ours.state_dict()) == list(pyg.state_dict())
    ours.load_state_dict(pyg.state_dict())
    x, batch = torch.randn(12, 8), torch.tensor([0] * 5 + [2] * 7)
    torch.testing.assert_close(ours(x, batch), pyg(x, batch))
    torch.testing.assert_close(ours(x, batch, size=4), pyg(x, batch, size=4))
    torch.testing.assert_close(ours(x), pyg(x))


def test_global_sort_pool_equal_to_pyg():
    x, batch = torch.randn(12, 8), torch.tensor([0] * 5 + [1] * 7)
    with pytest.warns(UserWarning, match="global_sort_pool"):
        got = glob.global_sort_pool(x, batch, k=3)
    with pytest.warns(UserWarning):
        expected = P.global_sort_pool(x, batch, k=3)
    torch.testing.assert_close(got, expected)
    assert glob.global_mean_pool is G.global_mean_pool


def test_second_names_as_pyg():
    from torch_geometric.nn.conv import ECConv

    assert G.ECConv is G.NNConv and ECConv is P.NNConv  # PyG exports it from nn.conv only
