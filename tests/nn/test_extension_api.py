"""PyG's MessagePassing extension API, one class body on both bases: edge_updater /
edge_update, an overridden aggregate with PyG's argument names, the propagate / message /
aggregate / edge_update hooks, explain mode, decomposed_layers; compile-clean."""
import pytest
import torch
from torch import Tensor

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")
pyg_utils = pytest.importorskip("torch_geometric.utils")
import gnnx.ops as ops  # noqa: E402

N, F = 12, 8


def _graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    ei = torch.randint(0, N, (2, 40), generator=g)
    ei = ei[:, ei[0] != ei[1]]  # no self loops: PyG's and gnnx's looped edge lists then agree
    return torch.randn(N, F, generator=g), ei


def attention_layer(base, softmax):
    """A PyG-style GAT head written with edge_updater, as a user would write it."""

    class Attention(base):
        def __init__(self):
            super().__init__(aggr="add")
            self.lin = torch.nn.Linear(F, 16, bias=False)
            self.att_src = torch.nn.Parameter(torch.randn(16))
            self.att_dst = torch.nn.Parameter(torch.randn(16))

        def forward(self, x, edge_index):
            h = self.lin(x)
            a_src, a_dst = (h * self.att_src).sum(-1, keepdim=True), (h * self.att_dst).sum(-1, keepdim=True)
            alpha = self.edge_updater(edge_index, alpha=(a_src, a_dst))
            return self.propagate(edge_index, x=h, alpha=alpha)

        def edge_update(self, alpha_j: Tensor, alpha_i: Tensor, index: Tensor, ptr, dim_size: int) -> Tensor:
            return softmax(torch.nn.functional.leaky_relu(alpha_j + alpha_i, 0.2), index, ptr, dim_size)

        def message(self, x_j: Tensor, alpha: Tensor) -> Tensor:
            return alpha * x_j

    return Attention


def median_layer(base):
    class MedianConv(base):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

        def aggregate(self, inputs: Tensor, index: Tensor, ptr=None, dim_size=None) -> Tensor:
            order = index.argsort(stable=True)
            return torch.zeros(dim_size, inputs.size(-1)).index_reduce_(0, index[order], inputs[order], "amax",
                                                                        include_self=False)

    return MedianConv


def _gnnx_softmax(src, index, ptr, dim_size):
    return ops.segment_softmax(src, index, dim_size)


def test_edge_updater_equals_pyg():
    x, ei = _graph()
    ours, theirs = attention_layer(G.MessagePassing, _gnnx_softmax)(), attention_layer(P.MessagePassing, pyg_utils.softmax)()
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x, ei), theirs(x, ei), atol=1e-5, rtol=1e-5)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, ei), ours(x, ei), atol=1e-5, rtol=1e-5)


def test_overridden_aggregate_gets_pyg_arguments():
    x, ei = _graph(1)
    torch.testing.assert_close(median_layer(G.MessagePassing)()(x, ei), median_layer(P.MessagePassing)()(x, ei))


@pytest.mark.porting("hooks / explain")
@pytest.mark.parametrize("name", ["GCNConv", "GraphConv", "SAGEConv", "EGConv"])
def test_hooks_equal_pyg(name):
    x, ei = _graph(2)
    pyg, ours = getattr(P, name)(F, 16), getattr(G, name)(F, 16)
    ours.load_state_dict(pyg.state_dict())
    seen = {}
    for conv, tag in ((pyg, "pyg"), (ours, "gnnx")):
        conv.register_message_forward_hook(lambda m, inputs, out: 2 * out)
        conv.register_aggregate_forward_pre_hook(lambda m, inputs, tag=tag: seen.update({tag: sorted(inputs[0])}))
        conv.register_propagate_forward_hook(lambda m, inputs, out: out + 1)
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
    assert {"index", "dim_size"} <= set(seen["gnnx"])


def test_hook_handles_remove_and_fused_path_returns():
    x, ei = _graph(3)
    conv = G.GCNConv(F, 16)
    plain = conv(x, ei)
    handle = conv.register_message_forward_hook(lambda m, inputs, out: 0 * out)
    assert not conv._uses_fused({}) and bool((conv(x, ei) == conv.bias).all())
    handle.remove()
    assert conv._uses_fused({})
    torch.testing.assert_close(conv(x, ei), plain)


def test_hooked_layer_compiles():
    x, ei = _graph(4)
    conv = G.GraphConv(F, 16)
    conv.register_message_forward_hook(lambda m, inputs, out: out.relu())
    compiled = torch.compile(conv, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, ei), conv(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.porting("hooks / explain")
@pytest.mark.parametrize("name", ["GCNConv", "GraphConv", "SAGEConv", "GINConv"])
def test_explain_mode_equals_pyg(name):
    x, ei = _graph(5)
    if name == "GINConv":
        pyg, ours = P.GINConv(torch.nn.Linear(F, 16)), G.GINConv(torch.nn.Linear(F, 16))
    else:
        pyg, ours = getattr(P, name)(F, 16), getattr(G, name)(F, 16)
    ours.load_state_dict(pyg.state_dict())
    mask = torch.randn(ei.size(1), generator=torch.Generator().manual_seed(6))
    for conv in (pyg, ours):
        conv.explain = True
        conv._edge_mask = mask
        conv._loop_mask = ei[0] != ei[1]
        conv._apply_sigmoid = True
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
    ours.explain = False
    assert not torch.allclose(ours(x, ei), pyg(x, ei), atol=1e-3)


def test_decomposed_layers_equal_pyg():
    x, ei = _graph(7)
    pyg, ours = P.GCNConv(F, 16, decomposed_layers=2), G.GCNConv(F, 16, decomposed_layers=2)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
    whole = G.GCNConv(F, 16)
    whole.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, ei), whole(x, ei), atol=1e-5, rtol=1e-5)
    pair = G.GraphConv(F, 16, decomposed_layers=2)  # a (source, destination) pair splits too (PyG's fails)
    single = G.GraphConv(F, 16)
    single.load_state_dict(pair.state_dict())
    torch.testing.assert_close(pair(x, ei), single(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("make", [
    lambda M: M.GINConv(torch.nn.Linear(F, 16), aggr="mean"),
    lambda M: M.GCNConv(F, 16, aggr="max"),
    lambda M: M.GCNConv(F, 16, aggr="mean"),
    lambda M: M.LEConv(F, 16, aggr="max"),
    lambda M: M.GATConv(F, 16, flow="target_to_source"),
])
def test_base_arguments_pass_through_every_layer(make):
    """PyG's layers hand **kwargs to MessagePassing; gnnx's take them too."""
    x, ei = _graph(8)
    pyg, ours = make(P), make(G)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.porting("hooks / explain")
@pytest.mark.parametrize("name", ["GATConv", "GATv2Conv"])
def test_attention_layers_run_through_propagate_when_observed(name):
    """GAT/GATv2 fuse scores, softmax and aggregation; with explain mode or message hooks they
    run PyG's edge_updater + propagate, so explainers and hooks see the messages."""
    x, ei = _graph(9)
    pyg, ours = getattr(P, name)(F, 4, heads=2), getattr(G, name)(F, 4, heads=2)
    ours.load_state_dict(pyg.state_dict())
    fused = ours(x, ei)
    shapes = {}
    for conv, tag in ((pyg, "pyg"), (ours, "gnnx")):
        conv.register_message_forward_hook(lambda m, inputs, out, tag=tag: shapes.update({tag: tuple(out.shape)}))
    torch.testing.assert_close(ours(x, ei), fused, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
    assert shapes["gnnx"] == shapes["pyg"]  # [E + N, heads, out]: no old loops in this graph
    mask = torch.randn(ei.size(1), generator=torch.Generator().manual_seed(10))
    for conv in (pyg, ours):
        conv.explain, conv._edge_mask, conv._loop_mask = True, mask, ei[0] != ei[1]
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("name", ["RGCNConv", "FiLMConv"])
def test_relational_layers_propagate_once_for_all_relations(name):
    """RGCN/FiLM route every relation through one propagate: explain mode sees one message
    per edge, and a 0/1 mask equals dropping those edges (sum aggregation)."""
    x, ei = _graph(11)
    edge_type = torch.randint(0, 3, (ei.size(1),), generator=torch.Generator().manual_seed(12))
    conv = getattr(G, name)(F, 16, num_relations=3, aggr="add") if name == "RGCNConv" else G.FiLMConv(F, 16, 3, aggr="add")
    keep = torch.rand(ei.size(1), generator=torch.Generator().manual_seed(13)) > 0.4
    expected = conv(x, ei[:, keep], edge_type[keep])
    seen = []
    conv.register_message_forward_hook(lambda m, inputs, out: seen.append(out.size(0)))
    conv.explain, conv._edge_mask, conv._apply_sigmoid = True, keep.float(), False
    torch.testing.assert_close(conv(x, ei, edge_type), expected, atol=1e-5, rtol=1e-5)
    assert seen == [ei.size(1)]
