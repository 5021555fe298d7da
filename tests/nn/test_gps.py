"""GPSConv: PyG's keys, repr, values and gradients (batched graphs, one graph, no local conv,
a norm that takes ``batch``, conv keyword arguments); compiled over batches of varying size
without recompiles (the masked all-node attention) and exported with dynamic node, edge and
batch sizes."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_compiles_once_and_exports, assert_same_outputs_and_gradients, graph_batch


def _pair(conv=True, norm="batch_norm", edge_dim=None):
    models = []
    for lib in (nn, torch_geometric.nn):
        torch.manual_seed(0)
        local = None
        if conv:
            local = lib.GINEConv(torch.nn.Linear(16, 16), edge_dim=edge_dim) if edge_dim else lib.GCNConv(16, 16)
        models.append(lib.GPSConv(16, local, heads=4, norm=norm))
    models[1].load_state_dict(models[0].state_dict())
    return models


@pytest.mark.parametrize("conv, norm, sizes", [(True, "batch_norm", [5, 9, 3]), (True, "layer_norm", [7, 4]),
                                               (False, "batch_norm", [6, 6]), (True, "batch_norm", [12]),
                                               (True, None, [4, 8, 2])])
def test_equals_pygs_values_gradients_keys_and_repr(conv, norm, sizes):
    ours, theirs = _pair(conv, norm)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, edge_index, batch = graph_batch(sizes)
    args = (x, edge_index) if len(sizes) == 1 else (x, edge_index, batch)
    assert_same_outputs_and_gradients(ours, theirs, *args)


def test_conv_keyword_arguments_reach_the_local_layer():
    ours, theirs = _pair(edge_dim=3)
    x, edge_index, batch = graph_batch([5, 9])
    edge_attr = torch.randn(edge_index.size(1), 3)
    torch.testing.assert_close(ours(x, edge_index, batch, edge_attr=edge_attr),
                               theirs(x, edge_index, batch, edge_attr=edge_attr))


def test_compiles_over_batches_without_recompiling_and_exports():
    ours, _ = _pair()
    dims = (torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2))
    assert_compiles_once_and_exports(ours.eval(), graph_batch, [[5, 9, 3], [7, 4], [6, 2, 8, 3]],
                                     ({0: dims[0]}, {1: dims[1]}, {0: dims[0]}), [6, 2, 8, 3, 10])
