"""PyG-style custom layers port unchanged: the ``message_and_aggregate`` contract."""
import torch
import torch_geometric

import gnnx.nn


def _layer(base):
    class WeightedNeighbours(base):
        """A PyG-style layer whose message_and_aggregate is only meant for sparse adjacency."""

        def __init__(self, channels):
            super().__init__(aggr="add")
            self.lin = torch.nn.Linear(channels, channels)

        def forward(self, x, edge_index, edge_weight):
            return self.propagate(edge_index, x=self.lin(x), edge_weight=edge_weight)

        def message(self, x_j, edge_weight):
            return edge_weight.view(-1, 1) * x_j

        def message_and_aggregate(self, adj_t, x):
            raise AssertionError("called for an edge_index tensor")

    return WeightedNeighbours


def test_message_and_aggregate_is_not_called_for_edge_index_tensors():
    torch.manual_seed(0)
    ours = _layer(gnnx.nn.MessagePassing)(8)
    theirs = _layer(torch_geometric.nn.MessagePassing)(8)
    theirs.load_state_dict(ours.state_dict())
    x, edge_index, weight = torch.randn(12, 8), torch.randint(12, (2, 40)), torch.rand(40)
    torch.testing.assert_close(ours(x, edge_index, weight), theirs(x, edge_index, weight))
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, edge_index, weight), theirs(x, edge_index, weight))
