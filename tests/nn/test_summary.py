"""gnnx.nn.summary: PyG's layer table (names, depth markers, shapes, parameter counts)."""
import torch

import gnnx.nn as G


def test_summary_lists_layers_shapes_and_parameters():
    model = G.GCN(16, 32, num_layers=2, out_channels=4)
    x, edge_index = torch.randn(10, 16), torch.randint(0, 10, (2, 30))
    model.train()
    table = G.summary(model, x, edge_index)
    lines = table.splitlines()
    # tabulate's psql widths (a header's minimum padding of 2), as PyG's
    assert lines[1].split("|")[1:-1] == [" Layer               ", " Input Shape       ", " Output Shape   ",
                                         " #Param   "]
    assert "| GCN " in table and "[10, 16], [2, 30]" in table and "│    └─(0)GCNConv" in table
    total = sum(p.numel() for p in model.parameters())
    assert f"| {total:,} " in table.replace(f"{total:,}  ", f"{total:,} ")
    assert model.training  # restored after the evaluation pass
    shallow = G.summary(model, x, edge_index, max_depth=1)
    assert "GCNConv" not in shallow and "(convs)ModuleList" in shallow
    lazy = G.summary(G.GraphSAGE(-1, 8, num_layers=2), x, edge_index, max_depth=1)
    assert "| -1 " in lazy


def test_summary_equals_pyg_layout_for_gnnx_and_pyg_models():
    """The table of PyG's own summary test, for gnnx's GCN and for PyG's (its message-passing
    layers are leaves too); a column of counts only is right-aligned, as tabulate does."""
    import torch_geometric.nn as P

    expected = "\n".join([
        "+---------------------+--------------------+----------------+----------+",
        "| Layer               | Input Shape        | Output Shape   | #Param   |",
        "|---------------------+--------------------+----------------+----------|",
        "| GCN                 | [100, 32], [2, 20] | [100, 32]      | 1,072    |",
        "| ├─(dropout)Dropout  | [100, 16]          | [100, 16]      | --       |",
        "| ├─(act)ReLU         | [100, 16]          | [100, 16]      | --       |",
        "| ├─(convs)ModuleList | --                 | --             | 1,072    |",
        "| │    └─(0)GCNConv   | [100, 32], [2, 20] | [100, 16]      | 528      |",
        "| │    └─(1)GCNConv   | [100, 16], [2, 20] | [100, 32]      | 544      |",
        "| ├─(norms)ModuleList | --                 | --             | --       |",
        "| │    └─(0)Identity  | [100, 16]          | [100, 16]      | --       |",
        "| │    └─(1)Identity  | --                 | --             | --       |",
        "+---------------------+--------------------+----------------+----------+"])
    x, edge_index = torch.randn(100, 32), torch.randint(100, size=(2, 20))
    assert G.summary(P.GCN(32, 16, num_layers=2, out_channels=32), x, edge_index) == expected
    # gnnx's models skip a dropout of p=0 (one op fewer a layer), so its module sees no call
    ours = expected.replace("| ├─(dropout)Dropout  | [100, 16]          | [100, 16]      |",
                            "| ├─(dropout)Dropout  | --                 | --             |")
    assert G.summary(G.GCN(32, 16, num_layers=2, out_channels=32), x, edge_index) == ours
    counts = G.summary(torch.nn.Sequential(torch.nn.Linear(4, 300), torch.nn.Linear(300, 2)), torch.randn(3, 4))
    assert "|   #Param |" in counts and "|    2,102 |" in counts
