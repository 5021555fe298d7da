"""SignedConv equals PyG's (first and later layers, bipartite pairs; values, gradients, keys,
repr); a two-layer signed model compiles without recompiles and exports with dynamic node and
edge counts."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_same_outputs_and_gradients


def _signed(num_nodes, seed=0, num_dst=None):
    gen = torch.Generator().manual_seed(seed)
    num_dst = num_dst or num_nodes
    edges = [torch.stack([torch.randint(num_nodes, (3 * num_nodes,), generator=gen),
                          torch.randint(num_dst, (3 * num_nodes,), generator=gen)]) for _ in range(2)]
    return torch.randn(num_nodes, 16, generator=gen), edges[0], edges[1]


@pytest.mark.parametrize("first_aggr, in_channels", [(True, 16), (False, 8)])
def test_equals_pygs(first_aggr, in_channels):
    torch.manual_seed(0)
    ours, theirs = nn.SignedConv(in_channels, 4, first_aggr), torch_geometric.nn.SignedConv(in_channels, 4, first_aggr)
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, pos, neg = _signed(20)
    assert_same_outputs_and_gradients(ours, theirs, x, pos, neg)
    x_dst = torch.randn(7, 16)
    pos, neg = pos[:, pos[1] < 7], neg[:, neg[1] < 7]
    torch.testing.assert_close(ours((x, x_dst), pos, neg), theirs((x, x_dst), pos, neg))


class TwoLayers(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.first, self.second = nn.SignedConv(16, 8, True), nn.SignedConv(8, 4, False)

    def forward(self, x, pos_edge_index, neg_edge_index):
        return self.second(self.first(x, pos_edge_index, neg_edge_index).relu(), pos_edge_index, neg_edge_index)


def test_compiles_without_recompiling_and_exports():
    torch.manual_seed(0)
    model = TwoLayers()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, num_nodes in enumerate([20, 31, 57]):
        inputs = _signed(num_nodes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs), model(*inputs))
    nodes, pos, neg = torch.export.Dim("nodes", min=2), torch.export.Dim("pos", min=2), torch.export.Dim("neg", min=2)
    program = torch.export.export(model, _signed(20), dynamic_shapes=({0: nodes}, {1: pos}, {1: neg}))
    inputs = _signed(44, seed=5)
    torch.testing.assert_close(program.module()(*inputs), model(*inputs))
