"""Layers take a bare edge_index or a prepared Graph alike, and reject bad input clearly."""
import pytest
import torch

import gnnx
from cases import ALL, IN, call, random_graph
from gnnx import transforms as T
from gnnx.graph import IndexRangeError
from gnnx.nn import GCN, GCNConv, GraphSAGE, SAGEConv, global_add_pool, global_max_pool, global_mean_pool


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
@pytest.mark.status("eager")
def test_graph_input_equals_tensor_input(case):
    x, edge_index, edge_weight, edge_attr = random_graph(40, 200, seed=2)
    module = case.gnnx().eval()
    graph = gnnx.Graph(edge_index, 40)
    with torch.no_grad():
        torch.testing.assert_close(
            call(module, case, x, graph, edge_weight, edge_attr),
            call(module, case, x, edge_index, edge_weight, edge_attr),
            rtol=1e-5, atol=1e-5,
        )


def test_graph_input_compiles_and_trains_like_eager():
    x, edge_index, _, _ = random_graph(50, 300, seed=4)
    graph = T.GCNNorm()(gnnx.Graph(edge_index, 50, x=x))
    model = GCN(IN, 16, 2, 3, normalize=False)
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    eager_out = model(x, graph, graph.edge_weight)
    eager_out.sum().backward()
    eager_grad = model.convs[0].lin.weight.grad.clone()
    model.zero_grad()
    out = compiled(x, graph, graph.edge_weight)
    out.sum().backward()
    torch.testing.assert_close(out, eager_out, rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(model.convs[0].lin.weight.grad, eager_grad, rtol=1e-5, atol=1e-5)


def test_sage_bipartite_pair_input():
    gen = torch.Generator().manual_seed(0)
    x_src, x_dst = torch.randn(7, IN, generator=gen), torch.randn(3, 5, generator=gen)
    edge_index = torch.tensor([[0, 6, 2, 5], [0, 0, 2, 1]])
    out = SAGEConv((IN, 5), 4)((x_src, x_dst), edge_index)
    assert out.shape == (3, 4)


@pytest.mark.parametrize(
    "edge_index, error, match",
    [
        (torch.tensor([[0.0, 1.0], [1.0, 0.0]]), TypeError, "dtype torch.int64"),
        (torch.zeros(3, 2, dtype=torch.long), ValueError, r"shape \[2, num_edges\]"),
        (torch.tensor([[0, 9], [1, 0]]), ValueError, "source node index 9 but there are only 4"),
        (torch.tensor([[0, 1], [1, -2]]), ValueError, "negative destination node index -2"),
        ([[0, 1], [1, 0]], TypeError, "must be a torch.Tensor"),
    ],
)
def test_layers_reject_bad_edge_index(edge_index, error, match):
    x = torch.randn(4, IN)
    for layer in (GCNConv(IN, 4, normalize=False), SAGEConv(IN, 4)):
        with pytest.raises(error, match=match):
            layer(x, edge_index)


def test_graph_with_no_edges_runs():
    x = torch.randn(5, IN)
    out = GraphSAGE(IN, 8, 2, 3)(x, torch.zeros(2, 0, dtype=torch.long))
    assert out.shape == (5, 3) and torch.isfinite(out).all()


def test_global_pools_with_size_and_empty_graph():
    x = torch.tensor([[1.0], [2.0], [5.0]])
    batch = torch.tensor([0, 0, 2])
    assert global_add_pool(x, batch, size=4).view(-1).tolist() == [3.0, 0.0, 5.0, 0.0]
    assert global_mean_pool(x, batch, size=3).view(-1).tolist() == [1.5, 0.0, 5.0]
    assert global_max_pool(x, batch).view(-1).tolist() == [2.0, 0.0, 5.0]
    assert global_add_pool(x, None).view(-1).tolist() == [8.0]
    with pytest.raises(ValueError, match="one entry per node"):
        global_add_pool(x, torch.tensor([0, 1]), size=2)
    with pytest.raises(ValueError, match=r"batch holds graph id 2, outside the size=2 graphs"):
        global_mean_pool(x, batch, size=2)


def test_pools_match_pyg():
    pyg_pool = pytest.importorskip("torch_geometric.nn.pool")
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(30, 4, generator=gen)
    batch = torch.randint(5, (30,), generator=gen).sort().values
    for ours, theirs in [(global_add_pool, pyg_pool.global_add_pool), (global_mean_pool, pyg_pool.global_mean_pool),
                         (global_max_pool, pyg_pool.global_max_pool)]:
        torch.testing.assert_close(ours(x, batch, 5), theirs(x, batch, 5))


def test_state_dict_keys_equal_pyg():
    models = pytest.importorskip("torch_geometric.nn.models")
    ours = GCN(IN, 16, 3, 4, norm="batch_norm", jk="cat")
    theirs = models.GCN(IN, 16, 3, 4, norm="batch_norm", jk="cat")
    assert list(ours.state_dict()) == list(theirs.state_dict())


BAD_EDGES = {
    "float": (torch.zeros(2, 3), TypeError, "dtype torch.int64"),
    "int16": (torch.zeros(2, 3, dtype=torch.int16), TypeError, "dtype torch.int64"),
    "three rows": (torch.zeros(3, 3, dtype=torch.long), ValueError, r"shape \[2, num_edges\]"),
    "index == N": (torch.tensor([[0, 5], [1, 1]]), IndexRangeError, "index 5"),
    "negative": (torch.tensor([[0, -1], [1, 1]]), IndexRangeError, "negative"),
}


@pytest.mark.parametrize("bad", list(BAD_EDGES))
@pytest.mark.parametrize("layer", ["GCNConv", "GATConv", "SAGEConv", "GINConv"])
def test_one_rule_for_bad_edges_in_every_layer(layer, bad):
    """Layers that add loops or normalise before propagating check as propagate does."""
    edge_index, error, message = BAD_EDGES[bad]
    module = gnnx.nn.GINConv(torch.nn.Linear(IN, 4)) if layer == "GINConv" else getattr(gnnx.nn, layer)(IN, 4)
    with pytest.raises(error, match=message):
        module(torch.randn(5, IN), edge_index)


@pytest.mark.parametrize("layer", ["GCNConv", "GraphConv"])
def test_wrong_length_edge_weight_is_named(layer):
    with pytest.raises(ValueError, match=r"edge_weight must have one row per edge \(2\)"):
        getattr(gnnx.nn, layer)(IN, 4)(torch.randn(3, IN), torch.tensor([[0, 1], [1, 2]]), torch.rand(3))


@pytest.mark.parametrize("layer", ["GCNConv", "GATConv", "SAGEConv", "GINConv"])
def test_one_dimensional_float_features_are_named(layer):
    """``[N]`` instead of ``[N, 1]``: a named error, not an index or matrix-product error."""
    module = gnnx.nn.GINConv(torch.nn.Linear(1, 4)) if layer == "GINConv" else getattr(gnnx.nn, layer)(1, 4)
    with pytest.raises(ValueError, match=rf"{layer}: node features must be 2-D .*got shape \[5\]"):
        module(torch.randn(5), torch.tensor([[0, 1], [1, 2]]))
    assert module(torch.randn(5, 1), torch.tensor([[0, 1], [1, 2]])).shape == (5, 4)
    # integer [N] stays: node ids, as RGCNConv takes them
    rgcn = gnnx.nn.RGCNConv(5, 4, num_relations=2)
    assert rgcn(torch.arange(5), torch.tensor([[0, 1], [1, 2]]), torch.tensor([0, 1])).shape == (5, 4)


@pytest.mark.parametrize("layer", ["EdgeConv", "DynamicEdgeConv"])
def test_edge_conv_names_a_feature_width_its_network_does_not_take(layer):
    mlp = gnnx.nn.MLP([6, 16, 16], norm=None)  # [x_i, x_j - x_i] of 3-wide features
    module = gnnx.nn.EdgeConv(mlp) if layer == "EdgeConv" else gnnx.nn.DynamicEdgeConv(mlp, k=3)
    args = (torch.tensor([[0, 1], [1, 2]]),) if layer == "EdgeConv" else ()
    with pytest.raises(ValueError, match=rf"{layer}: the network's first layer takes 6 input channels.*\[20, 4\]"):
        module(torch.randn(20, 4), *args)
    assert module(torch.randn(20, 3), *args).shape == (20, 16)


def test_point_net_conv_without_positions_is_named():
    with pytest.raises(ValueError, match="PointNetConv needs node positions"):
        gnnx.nn.PointNetConv()(torch.randn(3, 2), None, torch.tensor([[0], [1]]))


@pytest.mark.parametrize("layer, words", [
    (lambda: gnnx.nn.TransformerConv(IN, 4, edge_dim=2), r"built with edge_dim=2: pass edge_attr"),
    (lambda: gnnx.nn.GINEConv(torch.nn.Linear(IN, 4)), r"GINEConv needs edge_attr"),
])
def test_layers_that_need_edge_features_name_a_missing_edge_attr(layer, words):
    with pytest.raises(ValueError, match=words):
        layer()(torch.randn(3, IN), torch.tensor([[0, 1], [1, 2]]))


@pytest.mark.parametrize("layer", ["GCNConv", "ChebConv"])
def test_normalising_layers_take_edge_weight_as_pyg_does(layer):
    """[E] or [E, 1] (PyG gives the same result for both); other shapes are named."""
    conv = GCNConv(IN, 4) if layer == "GCNConv" else gnnx.nn.ChebConv(IN, 4, K=2)
    x, edge_index, weight = torch.randn(4, IN), torch.tensor([[0, 1, 2], [1, 2, 3]]), torch.rand(3)
    torch.testing.assert_close(conv(x, edge_index, weight.view(-1, 1)), conv(x, edge_index, weight))
    with pytest.raises(ValueError, match=rf"{layer}: edge_weight must hold one weight per edge .*\[3, 2\]"):
        conv(x, edge_index, torch.rand(3, 2))


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_int32_edge_index_gives_the_int64_result(case):
    """PyG's layers take an int32 edge_index; gnnx's widen it once per tensor (so the
    structure cache still hits) and give the int64 result, values and input gradient."""
    module = case.gnnx().train(False)
    x, edge_index, edge_weight, edge_attr = random_graph(60, 300, seed=2)
    results = []
    for index in (edge_index, edge_index.int()):
        x_in = x.clone().requires_grad_()
        out = call(module, case, x_in, index, edge_weight, edge_attr)
        out.sum().backward()
        results.append((out, x_in.grad))
    torch.testing.assert_close(results[1][0], results[0][0])
    torch.testing.assert_close(results[1][1], results[0][1])


def test_int32_edge_index_is_widened_once_and_compiles():
    from gnnx.ops import dispatch

    x, edge_index, _, _ = random_graph(60, 300, seed=3)
    narrow = edge_index.int()
    assert dispatch.as_int64(narrow) is dispatch.as_int64(narrow)
    torch.testing.assert_close(dispatch.as_int64(narrow), edge_index)
    narrow[0, 0] = 1 - narrow[0, 0]  # an in-place edit makes a new copy
    assert int(dispatch.as_int64(narrow)[0, 0]) == int(narrow[0, 0])
    model = GraphSAGE(IN, 8, 2, 3)
    expected = model(x, edge_index)
    for compiled in (gnnx.compile(model), torch.compile(model, fullgraph=True, dynamic=True)):
        torch.testing.assert_close(compiled(x, edge_index.int()), expected)


def test_mixhop_names_bad_powers():
    for powers in ([], [-1, 2]):
        with pytest.raises(ValueError, match="MixHopConv: powers must be a non-empty list"):
            gnnx.nn.MixHopConv(IN, 4, powers=powers)


def test_faconv_names_edge_weights_it_cannot_take_and_returns_pygs_attention():
    x, edge_index, edge_weight, _ = random_graph(20, 60, seed=5)
    with pytest.raises(ValueError, match=r"FAConv\(normalize=True\) computes its own edge weights"):
        gnnx.nn.FAConv(IN)(x, x, edge_index, edge_weight)
    with pytest.raises(ValueError, match=r"FAConv\(normalize=False\) needs an edge_weight"):
        gnnx.nn.FAConv(IN, normalize=False)(x, x, edge_index)
    pyg_conv = pytest.importorskip("torch_geometric.nn")
    ours, theirs = gnnx.nn.FAConv(IN), pyg_conv.FAConv(IN)
    theirs.load_state_dict(ours.state_dict())
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]  # with loops given, the lists differ (README)
    out, (looped, alpha) = ours(x, x, edge_index, return_attention_weights=True)
    want, (want_looped, want_alpha) = theirs(x, x, edge_index, return_attention_weights=True)
    torch.testing.assert_close(out, want)
    assert torch.equal(looped, want_looped)
    torch.testing.assert_close(alpha, want_alpha)


def test_an_index_out_of_range_is_an_index_error_as_in_pyg():
    """PyG raises ``IndexError`` for an edge index outside the nodes; gnnx's error is one too
    (and a ``ValueError``, as its other input errors), from a user's own MessagePassing layer,
    a built-in layer and a Graph alike."""

    class Mean(gnnx.nn.MessagePassing):
        def __init__(self):
            super().__init__(aggr="mean")

        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

    x = torch.randn(3, IN)
    for bad in (torch.tensor([[-1, 1, 2, 2], [0, 0, 1, 1]]), torch.tensor([[0, 1, 2, 3], [0, 0, 1, 1]])):
        for call_with in (Mean(), GCNConv(IN, 4), lambda x, e: gnnx.Graph(e, 3)):
            for caught in (IndexError, ValueError):
                with pytest.raises(caught):
                    call_with(x, bad)
