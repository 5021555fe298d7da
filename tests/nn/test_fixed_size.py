"""to_fixed_size against PyG's: readout aggregations pool into the fixed number of graphs, the
aggregations inside message-passing layers are left alone; the result compiles and exports."""
import pytest
import torch

import gnnx.nn as G


def _model(lib):
    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = lib.SAGEConv(4, 8, aggr=lib.aggr.MaxAggregation())  # an aggregation inside a layer
            self.pool = lib.aggr.SumAggregation()
            self.mean = lib.aggr.MeanAggregation()

        def forward(self, x, edge_index, batch):
            h = self.conv(x, edge_index).relu()
            return self.pool(h, batch) + self.mean(h, batch)

    torch.manual_seed(0)
    return Model()


def _inputs():
    g = torch.Generator().manual_seed(1)
    return torch.randn(9, 4, generator=g), torch.randint(9, (2, 20), generator=g), torch.tensor([0] * 4 + [1] * 5)


def test_equals_pyg():
    P = pytest.importorskip("torch_geometric.nn")
    theirs, ours = P.to_fixed_size(_model(P), 5), G.to_fixed_size(_model(G), 5)
    ours.load_state_dict(theirs.state_dict())
    expected, got = theirs(*_inputs()), ours(*_inputs())
    assert got.shape == expected.shape == (5, 8)
    torch.testing.assert_close(got, expected)
    assert _model(G)(*_inputs()).shape == (2, 8)  # the original is unchanged


def test_compiles_and_exports_with_the_fixed_size():
    model = G.to_fixed_size(_model(G), 4)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(*_inputs()), model(*_inputs()))
    program = torch.export.export(model, _inputs())
    assert program.module()(*_inputs()).shape == (4, 8)
    with pytest.raises(ValueError, match="positive int"):
        G.to_fixed_size(model, 0)
