"""gnnx.nn.summary: PyG's layer table (names, depth markers, shapes, parameter counts)."""
import torch

import gnnx.nn as G


def test_summary_lists_layers_shapes_and_parameters():
    model = G.GCN(16, 32, num_layers=2, out_channels=4)
    x, edge_index = torch.randn(10, 16), torch.randint(0, 10, (2, 30))
    model.train()
    table = G.summary(model, x, edge_index)
    lines = table.splitlines()
    assert lines[1].split("|")[1:-1] == [" Layer               ", " Input Shape       ", " Output Shape ", " #Param "]
    assert "| GCN " in table and "[10, 16], [2, 30]" in table and "│    └─(0)GCNConv" in table
    total = sum(p.numel() for p in model.parameters())
    assert f"| {total:,} " in table.replace(f"{total:,}  ", f"{total:,} ")
    assert model.training  # restored after the evaluation pass
    shallow = G.summary(model, x, edge_index, max_depth=1)
    assert "GCNConv" not in shallow and "(convs)ModuleList" in shallow
    lazy = G.summary(G.GraphSAGE(-1, 8, num_layers=2), x, edge_index, max_depth=1)
    assert "| -1 " in lazy
