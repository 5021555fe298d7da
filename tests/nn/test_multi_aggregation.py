"""MultiAggregation's combine modes against PyG's with the same weights: every mode PyG
has (``attn``, ``logsumexp``, ``std``, ``var`` were missing until session 29), per-aggregation
``in_channels``, PyG's parameter names; inside a layer, compiled without recompiling."""
import pytest
import torch

import gnnx.nn as G
from gnnx.nn.aggr import MultiAggregation

PA = pytest.importorskip("torch_geometric.nn.aggr")
P = pytest.importorskip("torch_geometric.nn")

MODES = {
    "cat": None,
    "proj": {"in_channels": 8, "out_channels": 5},
    "proj-widths-no-bias": {"in_channels": [8, 8, 8], "out_channels": 5, "bias": False},
    "attn": {"in_channels": 8, "out_channels": 6, "num_heads": 2},
    "sum": None, "mean": None, "max": None, "min": None, "logsumexp": None, "std": None, "var": None,
}


def _pair(mode_id):
    mode = mode_id.split("-")[0]
    torch.manual_seed(0)
    ours = MultiAggregation(["mean", "max", "std"], mode=mode, mode_kwargs=MODES[mode_id])
    theirs = PA.MultiAggregation(["mean", "max", "std"], mode=mode, mode_kwargs=MODES[mode_id])
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    return ours.eval(), theirs.eval()


@pytest.mark.parametrize("mode_id", list(MODES))
def test_combine_mode_equals_pyg(mode_id):
    ours, theirs = _pair(mode_id)
    gen = torch.Generator().manual_seed(1)
    x, index = torch.randn(40, 8, generator=gen), torch.randint(0, 7, (40,), generator=gen).sort().values
    got, want = ours(x, index, dim_size=7), theirs(x, index, dim_size=7)
    torch.testing.assert_close(got, want, rtol=1e-5, atol=1e-5)
    assert ours.get_out_channels(8) == theirs.get_out_channels(8) == got.size(-1)
    assert repr(ours) == repr(theirs)


def test_attention_combine_inside_a_layer_compiles_once_and_trains():
    """SAGEConv with an attention-combined MultiAggregation equals PyG's, compiles without
    recompiling at a second size, and its combine weights get gradients."""
    torch.manual_seed(0)
    aggr = {"aggr": MultiAggregation(["mean", "max"], mode="attn",
                                     mode_kwargs={"in_channels": 8, "out_channels": 8, "num_heads": 2})}
    ours = G.SAGEConv(8, 4, **aggr)
    theirs = P.SAGEConv(8, 4, aggr=PA.MultiAggregation(["mean", "max"], mode="attn", mode_kwargs={
        "in_channels": 8, "out_channels": 8, "num_heads": 2}))
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    torch._dynamo.reset()
    torch._dynamo.utils.counters.clear()
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for nodes, edges in ((20, 60), (33, 90)):
        x, edge_index = torch.randn(nodes, 8), torch.randint(nodes, (2, edges))
        torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(compiled(x, edge_index), ours(x, edge_index), rtol=1e-5, atol=1e-5)
    assert torch._dynamo.utils.counters["stats"]["unique_graphs"] == 1
    ours(x, edge_index).sum().backward()
    assert ours.aggr_module.multihead_attn.in_proj_weight.grad is not None


def test_bad_modes_and_widths_are_named():
    with pytest.raises(ValueError, match="mode must be one of"):
        MultiAggregation(["mean", "max"], mode="median")
    with pytest.raises(ValueError, match="two or more"):
        MultiAggregation(["mean"], mode="attn", mode_kwargs={"in_channels": 4, "out_channels": 4})
    with pytest.raises(ValueError, match="needs mode_kwargs"):
        MultiAggregation(["mean", "max"], mode="proj")
    with pytest.raises(ValueError, match="2 in_channels for 3"):
        MultiAggregation(["mean", "max", "min"], mode="proj", mode_kwargs={"in_channels": [4, 4], "out_channels": 4})
