"""Dense-adjacency layers (gnnx/nn/dense.py) against PyG's with the same weights: values and
gradients on padded batches with masks, a shared 2-D adjacency, every option; compiled with
dynamic batch and node counts without recompiles; exported; bad shapes named."""
import pytest
import torch

import gnnx
from cases import assert_same_outputs_and_gradients
from gnnx import nn

LAYERS = {
    "gcn": lambda ns: ns.DenseGCNConv(6, 5),
    "gcn-improved-no-bias": lambda ns: ns.DenseGCNConv(6, 5, improved=True, bias=False),
    "sage": lambda ns: ns.DenseSAGEConv(6, 5),
    "sage-normalize": lambda ns: ns.DenseSAGEConv(6, 5, normalize=True, bias=False),
    "graph-add": lambda ns: ns.DenseGraphConv(6, 5),
    "graph-mean": lambda ns: ns.DenseGraphConv(6, 5, aggr="mean"),
    "graph-max": lambda ns: ns.DenseGraphConv(6, 5, aggr="max"),
    "gat": lambda ns: ns.DenseGATConv(6, 5),
    "gat-heads-mean": lambda ns: ns.DenseGATConv(6, 5, heads=3, concat=False, negative_slope=0.1),
    "gin-train-eps": lambda ns: ns.DenseGINConv(torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.ReLU()),
                                                eps=0.3, train_eps=True),
}


def _batch(batch_size, num_nodes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, num_nodes, 6, generator=gen)
    adj = (torch.rand(batch_size, num_nodes, num_nodes, generator=gen) < 0.3).float()
    adj = adj * torch.rand(batch_size, num_nodes, num_nodes, generator=gen).round()  # some weight 0 entries
    adj[0, 0] = 0  # a node without neighbours
    mask = torch.arange(num_nodes).expand(batch_size, -1) < torch.randint(1, num_nodes + 1, (batch_size, 1),
                                                                            generator=gen)
    return x, adj, mask


def _pair(name):
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    ours = LAYERS[name](nn)
    theirs = LAYERS[name](pyg_nn)
    theirs.load_state_dict(ours.state_dict())
    assert list(ours.state_dict()) == list(theirs.state_dict()) and repr(ours) == repr(theirs)
    return ours, theirs


@pytest.mark.parametrize("name", list(LAYERS))
@pytest.mark.parametrize("inputs", ["batch+mask", "shared 2-D adjacency"])
def test_equals_pyg_values_and_gradients(name, inputs):
    ours, theirs = _pair(name)
    x, adj, mask = _batch(3, 7)
    args = (x, adj, mask) if inputs == "batch+mask" else (x[0], adj[0])
    assert_same_outputs_and_gradients(ours, theirs, *args)


@pytest.mark.parametrize("name", ["gcn", "graph-max", "gat-heads-mean", "gin-train-eps"])
def test_compiles_over_batch_and_node_counts_without_recompiling_and_exports(name):
    ours, _ = _pair(name)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    for i, (batch_size, num_nodes) in enumerate([(2, 5), (3, 9), (4, 12)]):
        x, adj, mask = _batch(batch_size, num_nodes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, adj, mask), ours(x, adj, mask))
    x, adj, mask = _batch(2, 5)
    batch, nodes = torch.export.Dim("batch", min=1), torch.export.Dim("nodes", min=2)
    program = torch.export.export(ours, (x, adj, mask), dynamic_shapes=({0: batch, 1: nodes}, {0: batch, 1: nodes,
                                                                        2: nodes}, {0: batch, 1: nodes}))
    x, adj, mask = _batch(3, 11, seed=5)
    torch.testing.assert_close(program.module()(x, adj, mask), ours(x, adj, mask))


def test_dense_diff_pool_equals_pygs():
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    x, adj, mask = _batch(3, 7)
    s = torch.randn(3, 7, 4)
    for normalize in (True, False):
        for m in (mask, None):
            ours = nn.dense_diff_pool(x, adj, s, m, normalize)
            theirs = pyg_nn.dense_diff_pool(x, adj, s, m, normalize)
            for a, b in zip(ours, theirs):
                torch.testing.assert_close(a, b)


@pytest.mark.parametrize("temp", [1.0, 0.5])
def test_dense_mincut_pool_equals_pygs(temp):
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    x, adj, mask = _batch(3, 7)
    adj = adj + adj.transpose(1, 2)  # MinCut's graphs are undirected
    s = torch.randn(3, 7, 4)
    for m in (mask, None):
        ours = nn.dense_mincut_pool(x, adj, s, m, temp)
        theirs = pyg_nn.dense_mincut_pool(x, adj, s, m, temp)
        for a, b in zip(ours, theirs):
            torch.testing.assert_close(a, b)


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match=r"DenseGCNConv: x \[B, N, F\] and adj \[B, N, N\] needed"):
        nn.DenseGCNConv(6, 5)(torch.randn(2, 4, 6), torch.rand(2, 5, 5))
    with pytest.raises(ValueError, match="DenseGraphConv: aggr must be"):
        nn.DenseGraphConv(6, 5, aggr="min")
    with pytest.raises(ValueError, match=r"dense_diff_pool: s \[B, N, C\]"):
        nn.dense_diff_pool(torch.randn(2, 4, 6), torch.rand(2, 4, 4), torch.randn(2, 3, 2))


def test_a_diffpool_model_over_to_dense_batch_trains():
    """PyG's DiffPool recipe: to_dense_batch / to_dense_adj, dense convolutions, dense_diff_pool."""
    from gnnx.utils import to_dense_adj, to_dense_batch

    gen = torch.Generator().manual_seed(1)
    batch = torch.repeat_interleave(torch.arange(3), torch.tensor([4, 6, 5]))
    x = torch.randn(15, 6, generator=gen)
    edge_index = torch.cat([torch.randint(0, 4, (2, 8), generator=gen), torch.randint(4, 10, (2, 12), generator=gen),
                            torch.randint(10, 15, (2, 10), generator=gen)], 1)
    dense_x, mask = to_dense_batch(x, batch, batch_size=3, max_num_nodes=6)
    adj = to_dense_adj(edge_index, batch, batch_size=3, max_num_nodes=6)
    embed, assign = nn.DenseSAGEConv(6, 8), nn.DenseGCNConv(6, 2)
    pooled, pooled_adj, link, ent = nn.dense_diff_pool(embed(dense_x, adj, mask), adj, assign(dense_x, adj, mask), mask)
    loss = pooled.sum() + link + ent
    loss.backward()
    assert pooled.shape == (3, 2, 8) and pooled_adj.shape == (3, 2, 2)
    assert all(p.grad is not None for p in (*embed.parameters(), *assign.parameters()))
    assert gnnx.nn.DenseGINConv is nn.DenseGINConv


def test_dense_gat_gives_zero_for_a_row_without_entries_where_pyg_gives_nan():
    _, adj, _ = _batch(2, 5)
    adj[0, 3] = 0
    module = nn.DenseGATConv(6, 5, heads=2)
    torch.nn.init.uniform_(module.bias)
    out = module(torch.randn(2, 5, 6), adj, add_loop=False)
    assert torch.isfinite(out).all()
    torch.testing.assert_close(out[0, 3], module.bias.detach())  # no neighbours: the bias alone


@pytest.mark.parametrize("pool", ["dense_diff_pool", "dense_mincut_pool"])
def test_pools_compile_over_batch_and_node_counts_without_recompiling(pool):
    fn = getattr(nn, pool)
    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    for i, (batch_size, num_nodes) in enumerate([(2, 5), (3, 9), (4, 12)]):
        x, adj, mask = _batch(batch_size, num_nodes, seed=i)
        s = torch.randn(batch_size, num_nodes, 3)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, adj, s, mask)
        for a, b in zip(got, fn(x, adj, s, mask)):
            torch.testing.assert_close(a, b, equal_nan=True)  # MinCut: a graph without edges is 0 / 0


@pytest.mark.parametrize("channels,dropout", [(6, 0.0), ([6, 8], 0.3)])
def test_dmon_pooling_equals_pygs(channels, dropout):
    pyg_nn = pytest.importorskip("torch_geometric.nn")
    torch.manual_seed(0)
    theirs = pyg_nn.DMoNPooling(channels, 4, dropout=dropout)
    ours = nn.DMoNPooling(channels, 4, dropout=dropout)
    ours.load_state_dict(theirs.state_dict())
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    x, adj, mask = _batch(3, 7)
    adj = adj + adj.transpose(1, 2)
    for m in (mask, None):
        results = []
        for module in (theirs, ours):
            torch.manual_seed(1)  # the same dropout mask on the logits
            x_leaf = x.clone().requires_grad_()
            out = module(x_leaf, adj, m)
            sum(t.sum() for t in out[1:]).backward()
            results.append((out, x_leaf.grad))
        for a, b in zip(results[1][0], results[0][0]):
            torch.testing.assert_close(a, b)
        torch.testing.assert_close(results[1][1], results[0][1])


def test_dmon_pooling_compiles_over_batch_and_node_counts_and_exports():
    from cases import assert_compiles_once_and_exports

    module = nn.DMoNPooling(6, 3).eval()

    def inputs(size, seed=0):
        x, adj, mask = _batch(*size, seed=seed)  # loops: no graph without edges (its spectral loss: 0 / 0)
        return x, adj + adj.transpose(1, 2) + torch.eye(size[1]), mask

    b, n = torch.export.Dim("b", min=2), torch.export.Dim("n", min=2)
    assert_compiles_once_and_exports(module, inputs, sizes=[(2, 5), (3, 9), (4, 12)], export_size=(5, 17),
                                     dynamic_shapes=({0: b, 1: n}, {0: b, 1: n, 2: n}, {0: b, 1: n}))
