"""GraphUNet equals PyG's (values, gradients of the inputs and parameters, keys, repr) on
batched random graphs, summed and concatenated skips, one or several pooling ratios."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_same_outputs_and_gradients


def _graphs(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    first = torch.cumsum(torch.tensor([0] + sizes[:-1]), 0).tolist()
    edges = torch.cat([torch.randint(n, (2, 3 * n), generator=gen) + f for n, f in zip(sizes, first)], 1)
    return torch.randn(sum(sizes), 6, generator=gen), edges, batch, torch.rand(edges.size(1), generator=gen) + 0.5


@pytest.mark.parametrize("kwargs", [dict(depth=2), dict(depth=3, pool_ratios=[0.8, 0.5], sum_res=False),
                                    dict(depth=1, act="tanh")])
def test_equals_pygs(kwargs):
    torch.manual_seed(0)
    ours, theirs = nn.GraphUNet(6, 8, 3, **kwargs), torch_geometric.nn.GraphUNet(6, 8, 3, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, edge_index, batch, edge_weight = _graphs([9, 14, 6])
    assert_same_outputs_and_gradients(ours, theirs, x, edge_index, batch, edge_weight)
    assert_same_outputs_and_gradients(ours, theirs, x, edge_index)  # one graph, unit weights


def test_bad_edge_weight_is_named():
    x, edge_index, batch, edge_weight = _graphs([5])
    with pytest.raises(ValueError, match="one value per edge"):
        nn.GraphUNet(6, 8, 3, depth=1)(x, edge_index, batch, edge_weight[1:])
