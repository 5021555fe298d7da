"""ARLinkPredictor against PyG (same seed: same weights; scores, r-fraction, gradients), and it
compiles and exports with dynamic node and edge counts."""
import pytest
import torch

import gnnx.nn as gnn

pyg_models = pytest.importorskip("torch_geometric.nn.models")


@pytest.mark.parametrize("layers", [1, 2, 4])
def test_equals_pyg(layers):
    torch.manual_seed(0)
    theirs = pyg_models.ARLinkPredictor(6, 16, 10, num_layers=layers, attract_ratio=0.3)
    torch.manual_seed(0)
    ours = gnn.ARLinkPredictor(6, 16, 10, num_layers=layers, attract_ratio=0.3)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    x, edge_index = torch.randn(12, 6), torch.randint(0, 12, (2, 30))
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index))
    assert ours.calculate_r_fraction(*ours.encode(x)) == pytest.approx(theirs.calculate_r_fraction(*theirs.encode(x)))
    with pytest.raises(ValueError, match="attract_ratio must be between 0 and 1"):
        gnn.ARLinkPredictor(6, 16, attract_ratio=1.5)


def test_compiles_and_exports():
    torch.manual_seed(0)
    model = gnn.ARLinkPredictor(6, 16).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate([(12, 30), (20, 7), (9, 40)]):
        x, edge_index = torch.randn(n, 6), torch.randint(0, n, (2, e))
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, edge_index), model(x, edge_index))
    nodes, edges = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2)
    x, edge_index = torch.randn(12, 6), torch.randint(0, 12, (2, 30))
    program = torch.export.export(model, (x, edge_index), dynamic_shapes=({0: nodes}, {1: edges}))
    x, edge_index = torch.randn(7, 6), torch.randint(0, 7, (2, 11))
    torch.testing.assert_close(program.module()(x, edge_index), model(x, edge_index))
