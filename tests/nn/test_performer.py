"""PerformerAttention and GPSConv(attn_type="performer") against PyG's: the same random
projection and weights for the same seed, keys, repr, values and gradients over dense batches
and over node-level batches (eager: PyG's dense layout; compiled and exported: the layout-free
form, including PyG's padding keys), compiled without recompiles, exported with dynamic sizes."""
import pytest
import torch
import torch_geometric

import gnnx.nn as nn
from cases import assert_compiles_once_and_exports, assert_same_outputs_and_gradients, graph_batch
from gnnx.utils.dense import to_dense_batch


def _attention_pair(**kwargs):
    models = []
    for lib in (nn, torch_geometric.nn):
        torch.manual_seed(0)
        models.append(lib.PerformerAttention(16, 4, **kwargs))
    return models


@pytest.mark.parametrize("kwargs", [{}, {"head_channels": None, "qkv_bias": True}, {"head_channels": 8}])
def test_attention_equals_pygs_with_the_same_seed(kwargs):
    ours, theirs = _attention_pair(**kwargs)
    assert repr(ours) == repr(theirs)
    ours_state, theirs_state = ours.state_dict(), theirs.state_dict()
    assert list(ours_state) == list(theirs_state)
    for key in ours_state:  # same draws in the same order: the same projection and weights
        torch.testing.assert_close(ours_state[key], theirs_state[key], rtol=0, atol=0)
    x, _, batch = graph_batch([5, 9, 3])
    h, mask = to_dense_batch(x, batch)
    assert_same_outputs_and_gradients(ours, theirs, h, mask)
    assert_same_outputs_and_gradients(ours, theirs, h)
    # the layout-free form gives the dense one's values at the nodes, padding keys included
    torch.testing.assert_close(ours.attend_within_graphs(x, batch), ours(h, mask)[mask])
    torch.testing.assert_close(ours.attend_within_graphs(x), ours(x.unsqueeze(0))[0])


def test_redraw_changes_only_the_projection():
    ours, _ = _attention_pair()
    before = {k: v.clone() for k, v in ours.state_dict().items()}
    ours.redraw_projection_matrix()
    after = ours.state_dict()
    assert not torch.equal(before["fast_attn.projection_matrix"], after["fast_attn.projection_matrix"])
    assert all(torch.equal(before[k], after[k]) for k in before if k != "fast_attn.projection_matrix")
    with pytest.raises(ValueError, match="multiple of heads"):
        nn.PerformerAttention(10, 4)


def _gps_pair(norm="batch_norm"):
    models = []
    for lib in (nn, torch_geometric.nn):
        torch.manual_seed(0)
        models.append(lib.GPSConv(16, lib.GCNConv(16, 16), heads=4, norm=norm, attn_type="performer",
                                  attn_kwargs={"head_channels": 8}))
    models[1].load_state_dict(models[0].state_dict())
    return models


@pytest.mark.parametrize("norm, sizes", [("batch_norm", [5, 9, 3]), ("layer_norm", [7, 4]), (None, [12])])
def test_gps_performer_equals_pygs(norm, sizes):
    ours, theirs = _gps_pair(norm)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, edge_index, batch = graph_batch(sizes)
    args = (x, edge_index) if len(sizes) == 1 else (x, edge_index, batch)
    assert_same_outputs_and_gradients(ours, theirs, *args)


def test_gps_performer_compiles_without_recompiling_and_exports():
    """Compiled and exported: the layout-free form (eager: the dense one, PyG's values)."""
    ours, _ = _gps_pair()
    dims = (torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2))
    for export_size in ([6, 2, 8, 3, 10], [4]):
        assert_compiles_once_and_exports(ours.eval(), graph_batch, [[5, 9, 3], [7, 4], [6, 2, 8, 3]],
                                         ({0: dims[0]}, {1: dims[1]}, {0: dims[0]}), export_size)
