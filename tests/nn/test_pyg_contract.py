"""PyG-style custom layers port unchanged: the ``message_and_aggregate`` contract, PyG's
semantics of sparse inputs, arguments and error phrases."""
import pytest
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


def _fusing_layer(base, spmm):
    class SparseFused(base):
        """PyG's documented pattern: a message path for edge_index, message_and_aggregate
        (with the adjacency's values) for a sparse adjacency; records what ran."""

        def __init__(self, aggr="add"):
            super().__init__(aggr=aggr)
            self.calls = []

        def forward(self, x, edge_index, edge_weight=None):
            return self.propagate(edge_index, x=(x, x), edge_weight=edge_weight)

        def message(self, x_j, edge_weight):
            self.calls.append("message")
            return x_j if edge_weight is None else edge_weight.view(-1, 1) * x_j

        def message_and_aggregate(self, adj_t, x):
            self.calls.append(type(adj_t).__name__)
            return spmm(adj_t, x[0], reduce=self.aggr)

    return SparseFused


@pytest.mark.parametrize("aggr", ["add", "mean"])
def test_ported_message_and_aggregate_gets_the_sparse_matrix_as_in_pyg(aggr):
    """A ported layer's ``message_and_aggregate`` runs for a sparse adjacency, with that
    matrix and PyG's hooks, and never for an ``edge_index``; ``fuse = False`` or explain mode
    turn it off, as in PyG."""
    from torch_geometric.utils import to_torch_csc_tensor

    import gnnx.utils

    ours = _fusing_layer(gnnx.nn.MessagePassing, gnnx.utils.spmm)(aggr)
    theirs = _fusing_layer(torch_geometric.nn.MessagePassing, torch_geometric.utils.spmm)(aggr)
    x, edge_index, weight = torch.randn(6, 4), torch.tensor([[0, 1, 2, 3, 5], [0, 0, 1, 1, 4]]), torch.rand(5)
    adj_t = to_torch_csc_tensor(edge_index, weight, size=(6, 6)).t()
    seen = {"pre": 0, "post": 0}
    ours.register_message_and_aggregate_forward_pre_hook(lambda m, inputs: seen.__setitem__("pre", seen["pre"] + 1))
    ours.register_message_and_aggregate_forward_hook(lambda m, i, o: seen.__setitem__("post", seen["post"] + 1))
    for layer in (ours, theirs):
        expected = layer(x, edge_index, weight)
        torch.testing.assert_close(layer(x, adj_t), expected)
        layer.fuse = False
        torch.testing.assert_close(layer(x, adj_t), expected)
        layer.fuse = True
    assert ours.calls == theirs.calls == ["message", "Tensor", "message"]
    assert seen == {"pre": 1, "post": 1}
    ours.explain, ours._edge_mask, ours._apply_sigmoid = True, torch.ones(5), False  # explain: the message path
    ours.calls.clear()
    torch.testing.assert_close(ours(x, adj_t), theirs(x, edge_index, weight))
    assert ours.calls == ["message"]
    ours.explain = False
    # gnnx.compile reads the matrix outside its graph: the edge_index path runs compiled
    ours.calls.clear()
    torch.testing.assert_close(gnnx.compile(ours)(x, adj_t), theirs(x, edge_index, weight))


def test_sparse_values_a_ported_layer_does_not_take_are_ignored_as_in_pyg():
    """A ported layer without edge weights and without message_and_aggregate ignores a
    matrix's values (PyG's message path does); gnnx's own layers, whose PyG counterparts
    multiply them in, say so instead."""
    from torch_geometric.utils import to_torch_csc_tensor

    class Difference(gnnx.nn.MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

        def message(self, x_i, x_j):
            return x_j - x_i

    x, edge_index = torch.randn(5, 3), torch.tensor([[0, 1, 2, 3], [1, 0, 4, 4]])
    adj_t = to_torch_csc_tensor(edge_index, torch.rand(4) + 2, size=(5, 5)).t()
    torch.testing.assert_close(Difference()(x, adj_t), Difference()(x, edge_index))
    with pytest.raises(ValueError, match="takes no edge weights"):
        gnnx.nn.GINConv(torch.nn.Linear(3, 3))(x, adj_t)


def test_pyg_error_phrases_for_bad_indices_and_a_missing_edge_mask():
    """PyG's tests match these phrases; gnnx's messages say more but keep them."""
    layer = gnnx.nn.SimpleConv()
    for bad in (torch.tensor([[0, 4], [1, 1]]), torch.tensor([[0, -1], [1, 1]])):
        with pytest.raises(IndexError, match=r"valid indices lie in the interval \[0, 4\)"):
            layer(torch.randn(4, 2), bad)
    layer.explain = True
    with pytest.raises(ValueError, match="pre-defined 'edge_mask'"):
        layer(torch.randn(4, 2), torch.tensor([[0, 1], [1, 0]]))


def test_aggregations_honour_ptr_and_degree_scaler_needs_index():
    import pytest
    import torch_geometric.nn.aggr as pyg_aggr

    import gnnx.nn.aggr as aggr

    x, ptr = torch.randn(10, 4), torch.tensor([0, 3, 3, 7, 10])
    for name in ("SoftmaxAggregation", "PowerMeanAggregation"):
        torch.testing.assert_close(getattr(aggr, name)()(x, ptr=ptr), getattr(pyg_aggr, name)()(x, ptr=ptr))
    scaler = aggr.DegreeScalerAggregation("sum", "identity", torch.tensor([0, 2, 3]))
    with pytest.raises(NotImplementedError, match="requires 'index'"):
        scaler(x)


def test_dir_gnn_wraps_sage_and_sage_keeps_pyg_attributes():
    torch.manual_seed(0)
    ours = gnnx.nn.DirGNNConv(gnnx.nn.SAGEConv(16, 32))
    theirs = torch_geometric.nn.DirGNNConv(torch_geometric.nn.SAGEConv(16, 32))
    theirs.load_state_dict(ours.state_dict())
    x, edge_index = torch.randn(10, 16), torch.randint(10, (2, 30))
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index))
    assert repr(gnnx.nn.SAGEConv((8, 16), 32)) == repr(torch_geometric.nn.SAGEConv((8, 16), 32))


def test_node_dim_outputs_are_contiguous():
    from gnnx import ops

    out = ops.scatter(torch.randn(3, 7, 4), torch.randint(5, (7,)), 5, "sum", dim=1)
    assert out.shape == (3, 5, 4) and out.is_contiguous()


def test_global_pools_on_static_graphs():
    x, batch = torch.randn(3, 5, 4), torch.tensor([0, 0, 1, 1, 1])
    for name in ("global_add_pool", "global_mean_pool", "global_max_pool"):
        for b in (None, batch):
            ours, theirs = getattr(gnnx.nn, name)(x, b), getattr(torch_geometric.nn, name)(x, b)
            assert ours.shape == theirs.shape
            torch.testing.assert_close(ours, theirs)


def test_gat_with_source_features_only():
    torch.manual_seed(0)
    for loops in (False, True):
        ours = gnnx.nn.GATConv((8, 6), 4, heads=2, add_self_loops=loops)
        theirs = torch_geometric.nn.GATConv((8, 6), 4, heads=2, add_self_loops=loops)
        theirs.load_state_dict(ours.state_dict())
        x_src = torch.randn(10, 8)
        edge_index = torch.stack([torch.randint(10, (30,)), torch.randint(5, (30,))])
        torch.testing.assert_close(ours((x_src, None), edge_index, size=(10, 5)),
                                   theirs((x_src, None), edge_index, size=(10, 5)))


NORMS = ["batch_norm", "layer_norm", "graph_norm", "instance_norm", "pair_norm"]


@pytest.mark.parametrize("jk", [None, "cat", "lstm"])
@pytest.mark.parametrize("norm", NORMS)
def test_models_take_norms_by_name_and_lstm_jumping_knowledge(norm, jk):
    torch.manual_seed(0)
    ours = gnnx.nn.GraphSAGE(8, 16, 3, 4, norm=norm, jk=jk).eval()
    theirs = torch_geometric.nn.GraphSAGE(8, 16, 3, 4, norm=norm, jk=jk).eval()
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x, edge_index = torch.randn(30, 8), torch.randint(30, (2, 90))
    batch = torch.tensor([0] * 12 + [1] * 18)
    torch.testing.assert_close(ours(x, edge_index, batch=batch, batch_size=2),
                               theirs(x, edge_index, batch=batch, batch_size=2), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("norm", ["graph_norm", "layer_norm"])
def test_graph_wise_norms_compile_without_recompiles(norm):
    model = gnnx.nn.GraphSAGE(8, 16, 2, 4, norm=norm, jk="lstm").eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate([(20, 60), (31, 90), (44, 130)]):
        x, edge_index = torch.randn(n, 8), torch.randint(n, (2, e))
        batch = (torch.arange(n) * 3) // n
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, edge_index, batch=batch, batch_size=3),
                                       model(x, edge_index, batch=batch, batch_size=3), rtol=1e-4, atol=1e-5)


def test_mlp_takes_pyg_arguments():
    torch.manual_seed(0)
    ours, theirs = gnnx.nn.MLP([8, 16, 4], norm="layer_norm").eval(), torch_geometric.nn.MLP([8, 16, 4], norm="layer_norm").eval()
    theirs.load_state_dict(ours.state_dict())
    x, batch = torch.randn(10, 8), torch.tensor([0] * 4 + [1] * 6)
    torch.testing.assert_close(ours(x, batch, 2), theirs(x, batch, 2))
    out, emb = ours(x, return_emb=True)
    ref_out, ref_emb = theirs(x, return_emb=True)
    torch.testing.assert_close((out, emb), (ref_out, ref_emb))


@pytest.mark.parametrize("case", __import__("cases").ALL, ids=lambda c: c.id)
def test_repr_equals_pyg(case):
    """Users and PyG's tooling read reprs: every layer and model prints as PyG's does, and
    keeps ``in_channels`` (and ``channels``) as given."""
    assert repr(case.gnnx()) == repr(case.pyg())


AGGRS = [("std", None), ("var", None), ("mul", None), ("softmax", None), (["softmax", "powermean"], None),
         (["mean", "std", "max"], None), (["mean", "max"], dict(mode="proj", mode_kwargs=dict(in_channels=8, out_channels=8))),
         ("SumAggregation", None)]


@pytest.mark.parametrize("aggr, aggr_kwargs", AGGRS, ids=[str(a[0]) + ("-proj" if a[1] else "") for a in AGGRS])
def test_every_aggregation_name_and_list(aggr, aggr_kwargs):
    torch.manual_seed(0)
    ours = gnnx.nn.SAGEConv(8, 16, aggr=aggr, aggr_kwargs=aggr_kwargs)
    theirs = torch_geometric.nn.SAGEConv(8, 16, aggr=aggr, aggr_kwargs=aggr_kwargs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    x, edge_index = torch.randn(12, 8), torch.randint(12, (2, 40))
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index))
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, edge_index), theirs(x, edge_index), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("combine_root", [None, "sum", "cat", "self_loop"])
def test_simple_conv_roots_and_bipartite_inputs(combine_root):
    x, edge_index, weight = torch.randn(10, 4), torch.randint(10, (2, 30)), torch.rand(30)
    for aggr in ("sum", "mean", "max"):
        ours, theirs = gnnx.nn.SimpleConv(aggr, combine_root), torch_geometric.nn.SimpleConv(aggr, combine_root)
        for _ in range(2):  # the second call runs on the cached structure
            torch.testing.assert_close(ours(x, edge_index, weight), theirs(x, edge_index, weight))
            torch.testing.assert_close(ours(x, gnnx.Graph(edge_index, 10)), theirs(x, edge_index))
        compiled = torch.compile(ours, fullgraph=True, dynamic=True)
        torch.testing.assert_close(compiled(x, edge_index, weight), theirs(x, edge_index, weight))
    if combine_root != "self_loop":
        x_src, x_dst = torch.randn(10, 4), torch.randn(5, 4)
        bipartite = torch.stack([torch.randint(10, (20,)), torch.randint(5, (20,))])
        torch.testing.assert_close(gnnx.nn.SimpleConv("mean", combine_root)((x_src, x_dst), bipartite),
                                   torch_geometric.nn.SimpleConv("mean", combine_root)((x_src, x_dst), bipartite))


def test_transformer_conv_returns_attention_weights():
    torch.manual_seed(0)
    ours = gnnx.nn.TransformerConv(8, 4, heads=2, edge_dim=3)
    theirs = torch_geometric.nn.TransformerConv(8, 4, heads=2, edge_dim=3)
    theirs.load_state_dict(ours.state_dict())
    x, edge_index, edge_attr = torch.randn(10, 8), torch.randint(10, (2, 30)), torch.randn(30, 3)
    out, (edges, alpha) = ours(x, edge_index, edge_attr, return_attention_weights=True)
    ref, (ref_edges, ref_alpha) = theirs(x, edge_index, edge_attr, return_attention_weights=True)
    torch.testing.assert_close((out, alpha), (ref, ref_alpha))
    assert torch.equal(edges, ref_edges)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x, edge_index, edge_attr), ref)


def test_rgcn_takes_node_indices_as_trainable_embeddings():
    torch.manual_seed(0)
    ours, theirs = gnnx.nn.RGCNConv(10, 6, num_relations=3), torch_geometric.nn.RGCNConv(10, 6, num_relations=3)
    theirs.load_state_dict(ours.state_dict())
    edge_index, edge_type, ids = torch.randint(10, (2, 40)), torch.randint(3, (40,)), torch.randperm(10)
    for x in (ids, None):
        torch.testing.assert_close(ours(x, edge_index, edge_type), theirs(x, edge_index, edge_type))
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(ids, edge_index, edge_type), theirs(ids, edge_index, edge_type))


@pytest.mark.parametrize("name", ["BatchNorm", "LayerNorm", "GraphNorm", "InstanceNorm"])
def test_norms_take_device_and_pyg_options(name):
    norm = getattr(gnnx.nn, name)(8, device="cpu")
    assert all(p.device.type == "cpu" for p in norm.parameters())
    assert sorted(norm.state_dict()) == sorted(getattr(torch_geometric.nn, name)(8, device="cpu").state_dict())
    if name == "BatchNorm":
        single = gnnx.nn.BatchNorm(8, allow_single_element=True).train()
        theirs = torch_geometric.nn.BatchNorm(8, allow_single_element=True).train()
        x = torch.randn(1, 8)
        torch.testing.assert_close(single(x), theirs(x))


@pytest.mark.parametrize("loops", [True, False])
def test_point_net_conv_bipartite_positions(loops):
    torch.manual_seed(1)
    local_nn, global_nn = torch.nn.Sequential(torch.nn.Linear(7, 16), torch.nn.ReLU()), torch.nn.Linear(16, 8)
    ours = gnnx.nn.PointNetConv(local_nn, global_nn, add_self_loops=loops)
    theirs = torch_geometric.nn.PointNetConv(local_nn, global_nn, add_self_loops=loops)
    x_src, pos_src, pos_dst = torch.randn(12, 4), torch.randn(12, 3), torch.randn(5, 3)
    edge_index = torch.stack([torch.randint(12, (30,)), torch.randint(5, (30,))])
    torch.testing.assert_close(ours((x_src, None), (pos_src, pos_dst), edge_index),
                               theirs((x_src, None), (pos_src, pos_dst), edge_index))
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled((x_src, None), (pos_src, pos_dst), edge_index),
                               theirs((x_src, None), (pos_src, pos_dst), edge_index))


def test_gcn_improved_without_weights_equals_pyg():
    """PyG applies improved=True (loops of weight 2) only to weighted graphs; so does gnnx."""
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    g = torch.Generator().manual_seed(0)
    x, ei = torch.randn(10, 8, generator=g), torch.randint(0, 10, (2, 30), generator=g)
    pyg, ours = pyg_nn.GCNConv(8, 4, improved=True), gnnx.nn.GCNConv(8, 4, improved=True)
    ours.load_state_dict(pyg.state_dict())
    torch.testing.assert_close(ours(x, ei), pyg(x, ei), atol=1e-5, rtol=1e-5)
    w = torch.rand(30, generator=g)
    torch.testing.assert_close(ours(x, ei, w), pyg(x, ei, w), atol=1e-5, rtol=1e-5)


def test_pyg_import_paths_of_readouts_and_layers_port():
    """What ``torch_geometric.nn`` exports and gnnx has ports by the import change alone:
    every aggregation module (PyG exports them at the top level too) and every class of
    gnnx.nn's own under the same top-level name."""
    import inspect

    import torch_geometric.nn as pyg_nn

    aggregations = [n for n, c in vars(pyg_nn.aggr).items() if inspect.isclass(c) and issubclass(c, pyg_nn.aggr.Aggregation)]
    missing = [n for n in aggregations if not hasattr(gnnx.nn, n) or not hasattr(gnnx.nn.aggr, n)]
    assert not missing, missing
    for name in gnnx.nn.__all__:
        assert hasattr(gnnx.nn, name), name


@pytest.mark.parametrize("norm", [None, "BatchNorm", "GraphNorm", "InstanceNorm", "LayerNorm", "PairNorm"])
def test_models_say_whether_their_norms_take_batch_as_pyg(norm):
    """BasicGNN's public ``supports_norm_batch``, PyG's value; a ``batch_size`` smaller than
    ``batch`` says so, naming the index."""
    from torch_geometric.nn.models import GraphSAGE as PyGGraphSAGE

    ours, theirs = gnnx.nn.GraphSAGE(8, 16, 2, norm=norm), PyGGraphSAGE(8, 16, 2, norm=norm)
    assert ours.supports_norm_batch == theirs.supports_norm_batch
    if ours.supports_norm_batch:
        x, edge_index, batch = torch.randn(3, 8), torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), torch.tensor([0, 0, 1])
        with pytest.raises(IndexError, match="index holds 1"):
            ours(x, edge_index, batch=batch, batch_size=1)


def test_cached_layers_keep_pyg_cache_names_and_sg_caches_propagated_features():
    """PyG's cache attributes port: ``_cached_edge_index``/``_cached_adj_t`` (GCN, APPNP,
    GCN2) read and reset the normalised graph; SGConv caches ``A^K X`` as PyG's does."""
    x, edge_index = torch.randn(6, 4), torch.tensor([[0, 1, 2, 3, 4], [1, 2, 3, 4, 5]])
    torch.manual_seed(0)
    ours, theirs = gnnx.nn.SGConv(4, 3, K=2, cached=True), torch_geometric.nn.SGConv(4, 3, K=2, cached=True)
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(x, edge_index), theirs(x, edge_index))
    assert ours._cached_x is not None
    torch.testing.assert_close(ours(x * 2, edge_index), theirs(x * 2, edge_index))  # the first call's A^K X
    ours.reset_parameters()
    assert ours._cached_x is None
    gcn = gnnx.nn.GCNConv(4, 3, cached=True)
    first = gcn(x, edge_index)
    assert gcn._cached_edge_index is not None and gcn._cached_adj_t is not None
    torch.testing.assert_close(gcn(x, edge_index.flip(0)), first)  # cached: the first graph's weights
    gcn._cached_edge_index = None  # PyG's way to move a cached layer to another graph
    assert not torch.allclose(gcn(x, edge_index.flip(0)), first)


def test_sparse_node_features_stay_features():
    """A ``torch.sparse`` feature matrix is the features, not the adjacency: the adjacency is
    the argument passed as ``edge_index``."""
    dense = torch.zeros(4, 16)
    dense[0, :2] = 1
    edge_index = torch.tensor([[0, 0, 0, 1, 2, 3], [1, 2, 3, 0, 0, 0]])
    torch.manual_seed(0)
    ours, theirs = gnnx.nn.GCNConv(16, 8), torch_geometric.nn.GCNConv(16, 8)
    theirs.load_state_dict(ours.state_dict())
    torch.testing.assert_close(ours(dense.to_sparse(), edge_index), theirs(dense.to_sparse(), edge_index))
    torch.testing.assert_close(ours(dense.to_sparse(), edge_index), ours(dense, edge_index))


def test_node_dim_set_after_construction_runs_a_static_graph():
    """PyG's static-graph mode: ``conv.node_dim = 1`` on a built layer, features ``[B, N, F]``
    (the fused path recursed without end before session 30), contiguous as PyG's."""

    class Plain(gnnx.nn.MessagePassing):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)

    edge_index = torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]])
    x = torch.randn(2, 3, 8)
    for conv in (Plain(), gnnx.nn.GCNConv(8, 16), gnnx.nn.ChebConv(8, 16, K=2)):
        flat = conv(x.reshape(6, 8), torch.cat([edge_index, edge_index + 3], 1))
        conv.node_dim = 1
        out = conv(x, edge_index)
        assert out.shape[:2] == (2, 3) and out.is_contiguous()
        torch.testing.assert_close(out.view(6, -1), flat)


def test_gen_conv_with_a_list_of_aggregations_equals_pyg():
    torch.manual_seed(0)
    ours = gnnx.nn.GENConv(16, 32, ["softmax", "powermean"], edge_dim=16, msg_norm=True)
    theirs = torch_geometric.nn.GENConv(16, 32, ["softmax", "powermean"], edge_dim=16, msg_norm=True)
    assert set(ours.state_dict()) == set(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    ours.eval(), theirs.eval()
    x, edge_index, attr = torch.randn(6, 16), torch.tensor([[0, 1, 2, 3, 5], [0, 0, 1, 1, 4]]), torch.randn(5, 16)
    torch.testing.assert_close(ours(x, edge_index, attr), theirs(x, edge_index, attr), atol=1e-5, rtol=1e-5)


def test_pyg_helpers_and_checks_of_layers():
    """HeteroConv refuses a self-loop-adding layer on a relation between two types (PyG's
    check_add_self_loops); SuperGATConv's negative_sampling; MLP's and EGConv's PyG texts."""
    gnnx.nn.HeteroConv({("a", "to", "a"): gnnx.nn.GCNConv(4, 4)})
    with pytest.raises(ValueError, match="incorrect message passing"):
        gnnx.nn.HeteroConv({("a", "to", "b"): gnnx.nn.GCNConv(4, 4)})
    conv = gnnx.nn.SuperGATConv(8, 4, heads=2, neg_sample_ratio=1.0)
    edge_index = torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7], [0, 0, 1, 1, 4, 4, 5, 5]])
    negatives = conv.negative_sampling(edge_index, 8, batch=torch.tensor([0] * 4 + [1] * 4))
    assert negatives.size(0) == 2 and ((negatives[0] < 4) == (negatives[1] < 4)).all()  # within each graph
    conv(torch.randn(8, 8), edge_index, negatives)
    assert conv.get_attention_loss() > 0
    assert conv.positive_sampling(edge_index).size(1) == 8  # edge_sample_ratio 1: all kept
    assert repr(gnnx.nn.MLP([8, 16, 3])) == repr(torch_geometric.nn.MLP([8, 16, 3])) == "MLP(8, 16, 3)"
    with pytest.raises(ValueError, match="must be divisible by the number of"):
        gnnx.nn.EGConv(16, 30, num_heads=8)
    with pytest.raises(ValueError, match="Unsupported aggregator"):
        gnnx.nn.EGConv(16, 32, aggregators=["xxx"])


def test_aggregations_take_pyg_dim_and_check_dim_size():
    """``aggr(x, index, dim=...)`` as PyG's (default ``-2``: the nodes of ``[B, N, F]``), its
    invalid-dimension and invalid-``dim_size`` errors."""
    x, index = torch.randn(3, 6, 4), torch.tensor([0, 0, 1, 1, 1, 2])
    for name in ("SumAggregation", "MeanAggregation", "MaxAggregation", "MedianAggregation", "SoftmaxAggregation"):
        ours, theirs = getattr(gnnx.nn, name)(), getattr(torch_geometric.nn.aggr, name)()
        torch.testing.assert_close(ours(x, index), theirs(x, index))
        torch.testing.assert_close(ours(x, index, dim=1), theirs(x, index, dim=1))
        torch.testing.assert_close(ours(x.transpose(0, 1), index, dim=0), theirs(x.transpose(0, 1), index, dim=0))
    aggr = gnnx.nn.MeanAggregation()
    with pytest.raises(ValueError, match="invalid dimension"):
        aggr(x[0], index, dim=-3)
    with pytest.raises(ValueError, match="invalid 'dim_size'"):
        aggr(x[0], ptr=torch.tensor([0, 2, 5, 6]), dim_size=2)
    with pytest.raises(ValueError, match="invalid 'dim_size'"):
        aggr(x[0], index, dim_size=2)
    torch.testing.assert_close(aggr(torch.arange(6.0), index), torch.tensor([0.5, 3.0, 5.0]))  # 1-D: its dim


def test_norm_linear_and_mlp_pyg_api():
    """BatchNorm.reset_running_stats, MessageNorm(device=), HeteroLinear lazy and with
    initializers (PyG's draws for the same seed), MLP.supports_norm_batch, and an index error
    that is also a RuntimeError (torch's own out-of-bounds type)."""
    norm = gnnx.nn.BatchNorm(4)
    norm(torch.randn(10, 4) + 3)
    norm.reset_running_stats()
    assert torch.equal(norm.module.running_mean, torch.zeros(4))
    assert gnnx.nn.MessageNorm(True, device="cpu").scale.device.type == "cpu"
    for kwargs in ({}, dict(weight_initializer="glorot", bias_initializer="zeros")):
        torch.manual_seed(1)
        ours = gnnx.nn.HeteroLinear(16, 8, num_types=3, **kwargs)
        torch.manual_seed(1)
        theirs = torch_geometric.nn.HeteroLinear(16, 8, num_types=3, **kwargs)
        for key, value in theirs.state_dict().items():
            torch.testing.assert_close(ours.state_dict()[key], value)
    lazy = gnnx.nn.HeteroLinear(-1, 8, num_types=3)
    x, types = torch.randn(5, 16), torch.tensor([0, 1, 2, 1, 0])
    assert lazy(x, types).shape == (5, 8) and lazy.in_channels == 16 and lazy.weight.shape == (3, 16, 8)
    loaded = gnnx.nn.HeteroLinear(-1, 8, num_types=3)
    loaded.load_state_dict(lazy.state_dict())
    torch.testing.assert_close(loaded(x, types), lazy(x, types))
    assert [gnnx.nn.MLP([8, 16, 4], norm=n).supports_norm_batch for n in ("batch_norm", "graph_norm", None)] == \
        [torch_geometric.nn.MLP([8, 16, 4], norm=n).supports_norm_batch for n in ("batch_norm", "graph_norm", None)]
    from gnnx.graph import IndexRangeError
    assert issubclass(IndexRangeError, RuntimeError) and issubclass(IndexRangeError, IndexError)


def test_inits_take_pyg_signatures_and_modules():
    """``gnnx.nn.inits`` as PyG's: keyword names, modules (each parameter and buffer), and
    ``glorot_orthogonal``/``constant``/``ones``/``normal``; the same draws for the same seed."""
    from torch_geometric.nn import inits as theirs

    from gnnx.nn import inits as ours

    for name, args in (("uniform", (4,)), ("ones", ()), ("zeros", ())):
        for make in (lambda: torch.empty(3, 5), lambda: torch.nn.Linear(5, 3)):
            got, want = make(), make()
            torch.manual_seed(0)
            getattr(ours, name)(*args, got) if args else getattr(ours, name)(got)
            torch.manual_seed(0)
            getattr(theirs, name)(*args, want) if args else getattr(theirs, name)(want)
            for a, b in zip(got.parameters() if isinstance(got, torch.nn.Module) else [got],
                            want.parameters() if isinstance(want, torch.nn.Module) else [want]):
                torch.testing.assert_close(a, b)
    x = torch.empty(1, 4)
    ours.uniform(size=4, value=x)
    assert x.abs().max() <= 0.5
    weight, expected = torch.empty(6, 6), torch.empty(6, 6)
    torch.manual_seed(1)
    ours.glorot_orthogonal(weight, scale=2.0)
    torch.manual_seed(1)
    theirs.glorot_orthogonal(expected, scale=2.0)
    torch.testing.assert_close(weight, expected)
    ours.normal(weight, 0.0, 1.0)
    ours.constant(weight, 3.0)
    assert (weight == 3).all()


def test_basic_models_keep_pyg_norm_layout():
    """``norms`` holds one module per layer as PyG's (the last an Identity without jk)."""
    for jk in (None, "cat"):
        ours = gnnx.nn.GCN(8, 16, num_layers=3, norm="batch_norm", jk=jk)
        theirs = torch_geometric.nn.GCN(8, 16, num_layers=3, norm="batch_norm", jk=jk)
        assert [type(n).__name__ for n in ours.norms] == [type(n).__name__ for n in theirs.norms]
        assert set(ours.state_dict()) == set(theirs.state_dict())


def test_to_hetero_graph_level_model_and_pyg_warnings():
    """An aggregation module as a readout goes through to_hetero (traced as a leaf: a regression
    of session 30's ``dim`` argument, caught by PyG's test); PyG's
    warnings for a baked-in training flag, parameters that cannot be reset, odd type names."""
    import warnings

    import torch.nn.functional as F

    class GraphLevel(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = gnnx.nn.SAGEConv(16, 32)
            self.pool = gnnx.nn.MeanAggregation()

        def forward(self, x, edge_index, batch):
            return self.pool(self.conv(x, edge_index), batch)

    metadata = (["a", "b"], [("a", "to", "b"), ("b", "to", "a")])
    model = gnnx.nn.to_hetero(GraphLevel(), metadata)
    x = {"a": torch.randn(6, 16), "b": torch.randn(4, 16)}
    edges = {("a", "to", "b"): torch.tensor([[0, 5], [1, 3]]), ("b", "to", "a"): torch.tensor([[2, 0], [4, 1]])}
    batch = {"a": torch.tensor([0, 0, 0, 1, 1, 1]), "b": torch.tensor([0, 0, 1, 1])}
    out = model(x, edges, batch)  # graph-level: the node types' readouts combined, as PyG's
    assert isinstance(out, torch.Tensor) and out.shape == (2, 32)

    class Dropping(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = gnnx.nn.SAGEConv(16, 16)
            self.scale = torch.nn.Sequential(torch.nn.Module())
            self.scale[0].weight = torch.nn.Parameter(torch.ones(16))

        def forward(self, x, edge_index):
            x = F.dropout(self.conv(x, edge_index), p=0.5, training=self.training)
            return x * self.scale[0].weight

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gnnx.nn.to_hetero(Dropping(), (["a", "b c"], [("a", "to", "b c"), ("b c", "to", "a")]))
    texts = " ".join(str(w.message) for w in caught)
    assert "keyword argument 'training'" in texts and "letters, numbers and underscores" in texts


def test_utilities_find_pyg_message_passing_layers():
    """get_num_hops and get_embeddings count PyG's layers in a PyG model too (they counted
    gnnx's only before session 30)."""
    import gnnx.utils

    model = torch_geometric.nn.GCN(8, 16, num_layers=2)
    x, edge_index = torch.randn(5, 8), torch.tensor([[0, 1, 2, 3], [1, 2, 3, 4]])
    assert gnnx.utils.get_num_hops(model) == 2
    embeddings = gnnx.utils.get_embeddings(model, x, edge_index)
    assert [e.shape for e in embeddings] == [(5, 16), (5, 16)]


def test_resolvers_and_warmup_schedulers_equal_pyg():
    """``gnnx.nn.resolver`` and ``gnnx.nn.lr_scheduler`` as PyG's modules of those names: the
    same classes by name, the same learning rates step by step."""
    from torch_geometric.nn import resolver as theirs

    from gnnx.nn import aggr, norm
    from gnnx.nn import resolver as ours

    assert isinstance(ours.activation_resolver("leaky_relu", 0.2), torch.nn.LeakyReLU)
    assert ours.activation_resolver("swish") is ours.swish
    assert isinstance(ours.normalization_resolver("batch", 16), norm.BatchNorm)
    assert isinstance(ours.aggregation_resolver("add"), aggr.SumAggregation)
    assert isinstance(ours.aggregation_resolver(["sum", "max"]), aggr.MultiAggregation)
    with pytest.raises(ValueError, match="Could not resolve"):
        ours.aggregation_resolver("nothing")
    for name, kwargs in (("constant_with_warmup", {}), ("linear_with_warmup", {}), ("cosine_with_warmup", {}),
                         ("cosine_with_warmup_restarts", {}), ("polynomial_with_warmup", {"power": 2.0}),
                         ("StepLR", {"step_size": 3}), ("ReduceLROnPlateau", {})):
        rates = []
        for module in (ours, theirs):
            optimizer = module.optimizer_resolver("adam", [torch.nn.Parameter(torch.zeros(2))], lr=0.1)
            scheduler = module.lr_scheduler_resolver(name, optimizer, warmup_ratio_or_steps=3, num_training_steps=12,
                                                     **kwargs)
            seen = []
            for _ in range(14):
                optimizer.step()
                scheduler.step(1.0) if name == "ReduceLROnPlateau" else scheduler.step()
                seen.append(optimizer.param_groups[0]["lr"])
            rates.append(seen)
        assert rates[0] == pytest.approx(rates[1]), name
