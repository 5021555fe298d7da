"""RandomNodeLoader, GraphSAINT samplers, DataListLoader, ImbalancedSampler and
DynamicBatchSampler: PyG's arguments and semantics (PyG's GraphSAINT needs torch-sparse, so
its subgraphs are checked against their definition; RandomNodeLoader against PyG's)."""
from collections import Counter

import pytest
import torch

import gnnx
from gnnx.loader import (
    DataListLoader,
    DynamicBatchSampler,
    GraphSAINTEdgeSampler,
    GraphSAINTNodeSampler,
    GraphSAINTRandomWalkSampler,
    ImbalancedSampler,
    RandomNodeLoader,
)

N = 40


def _graph(seed=0):
    g = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, N, (2, 160), generator=g)
    return gnnx.Graph(edge_index, N, x=torch.randn(N, 3, generator=g), y=torch.randint(0, 3, (N,), generator=g),
                      edge_attr=torch.randn(160, 2, generator=g), train_mask=torch.rand(N, generator=g) > 0.5)


def _check_induced(sub, graph, nodes):
    """``sub`` is the subgraph of ``graph`` induced by ``nodes`` (in that order)."""
    assert sub.num_nodes == nodes.numel()
    torch.testing.assert_close(sub.x, graph.x[nodes])
    assert torch.equal(sub.train_mask, graph.train_mask[nodes])
    inside = set(nodes.tolist())
    expected = Counter((s, d, tuple(a.tolist())) for (s, d), a in zip(graph.edge_index.t().tolist(), graph.edge_attr)
                       if s in inside and d in inside)
    got = Counter((nodes[s].item(), nodes[d].item(), tuple(a.tolist()))
                  for (s, d), a in zip(sub.edge_index.t().tolist(), sub.edge_attr))
    assert got == expected


def test_random_node_loader_equals_pyg():
    pyg_loader = pytest.importorskip("torch_geometric.loader")
    graph = _graph()
    data = graph.to_pyg()
    torch.manual_seed(0)
    ours = list(RandomNodeLoader(graph, num_parts=4, shuffle=True))
    torch.manual_seed(0)
    theirs = list(pyg_loader.RandomNodeLoader(data, num_parts=4, shuffle=True))
    assert len(ours) == len(theirs) == 4
    for a, b in zip(ours, theirs):
        torch.testing.assert_close(a.x, b.x)
        key_a = sorted(map(tuple, a.edge_index.t().tolist()))
        assert key_a == sorted(map(tuple, b.edge_index.t().tolist()))


@pytest.mark.parametrize("make", [
    lambda g, **kw: GraphSAINTNodeSampler(g, batch_size=10, num_steps=3, **kw),
    lambda g, **kw: GraphSAINTEdgeSampler(g, batch_size=8, num_steps=3, **kw),
    lambda g, **kw: GraphSAINTRandomWalkSampler(g, batch_size=5, walk_length=3, num_steps=3, **kw),
])
def test_graphsaint_samplers_give_induced_subgraphs_with_norms(make, tmp_path):
    graph = _graph(1)
    torch.manual_seed(0)
    loader = make(graph, sample_coverage=4, save_dir=str(tmp_path))
    assert len(loader) == 3
    for sub in loader:
        nodes = sub.n_id if hasattr(sub, "n_id") else None
        assert sub.node_norm.shape == (sub.num_nodes,) and sub.edge_norm.shape == (sub.num_edges,)
        assert (sub.node_norm > 0).all() and (sub.edge_norm >= 0).all()
        assert nodes is None
    sampler = make(graph)  # each batch is the subgraph its node draw induces
    item = sampler[0]
    _check_induced(sampler._collate([item]), graph, item[0])
    cached = make(graph, sample_coverage=4, save_dir=str(tmp_path))  # the saved normalisation is read back
    torch.testing.assert_close(cached.node_norm, loader.node_norm)


def test_list_imbalanced_and_dynamic_batching():
    graphs = [gnnx.Graph(torch.randint(0, n, (2, 2 * n)), n, y=torch.tensor(int(n > 6))) for n in range(3, 13)]
    batches = list(DataListLoader(graphs, batch_size=4))
    assert [len(b) for b in batches] == [4, 4, 2] and batches[0][0] is graphs[0]
    graph = _graph(2)
    torch.manual_seed(0)
    drawn = graph.y[list(ImbalancedSampler(graph, num_samples=3000))]
    counts = torch.bincount(drawn, minlength=3).float()
    assert (counts / counts.sum() - 1 / 3).abs().max() < 0.05
    labels = torch.tensor([0] * 9 + [1])
    assert len(list(ImbalancedSampler(labels))) == 10
    assert len(list(ImbalancedSampler(graphs))) == len(graphs)
    batches = [b for b in DynamicBatchSampler(graphs, max_num=20, mode="node")]  # len() is undefined, as PyG's
    assert all(sum(graphs[i].num_nodes for i in b) <= 20 for b in batches)
    assert sorted(i for b in batches for i in b) == list(range(len(graphs)))
    assert all(graphs[i].num_nodes <= 10 for b in DynamicBatchSampler(graphs, max_num=10, skip_too_big=True)
               for i in b)
    loader = torch.utils.data.DataLoader(graphs, batch_sampler=DynamicBatchSampler(graphs, max_num=30, num_steps=2),
                                         collate_fn=gnnx.data.collate)
    assert len(list(loader)) == 2
    with pytest.raises(ValueError, match="'node' or 'edge'"):
        DynamicBatchSampler(graphs, 10, mode="face")
    with pytest.raises(ValueError, match="integer labels"):
        ImbalancedSampler(torch.rand(5))


def test_dense_data_loader_stacks_dense_graphs_as_pyg():
    pyg_loader = pytest.importorskip("torch_geometric.loader")
    pyg_transforms = pytest.importorskip("torch_geometric.transforms")
    import gnnx.transforms as T
    from gnnx.loader import DenseDataLoader

    graphs = [gnnx.Graph(torch.randint(0, n, (2, 2 * n)), n, x=torch.randn(n, 3), y=torch.tensor(n % 2))
              for n in (4, 6, 5)]
    ours = list(DenseDataLoader([T.ToDense(6)(g) for g in graphs], batch_size=2))
    pyg_graphs = [g.to_pyg() for g in graphs]
    for data in pyg_graphs:
        data.y = data.y.view(1)  # PyG's ToDense needs a 1-D label
    theirs = list(pyg_loader.DenseDataLoader([pyg_transforms.ToDense(6)(d) for d in pyg_graphs], batch_size=2))
    assert len(ours) == len(theirs) == 2 and ours[0].num_graphs == 2
    for a, b in zip(ours, theirs):
        for name in ("x", "adj", "mask"):
            torch.testing.assert_close(a[name], b[name])
        torch.testing.assert_close(a.y.view(-1), b.y.view(-1))
    with pytest.raises(ValueError, match="one shape"):
        list(DenseDataLoader([T.ToDense()(g) for g in graphs], batch_size=3))


def test_attributes_follow_pygs_reading_in_subgraphs_and_node_transforms():
    """Extra attributes are read as PyG reads them (gnnx.graph.attribute_kind): one of the
    edges' length without "edge" in its name follows the edges, as in PyG's Data.subgraph
    (before, the induced subgraph left it whole); node attributes follow the nodes."""
    from gnnx.data.subgraph_loaders import induced_subgraph
    from gnnx.transforms import FixedPoints, GridSampling, RemoveIsolatedNodes

    graph = _graph().replace(score=torch.arange(160.0), weight=torch.arange(float(N)), edge_tag=torch.arange(160))
    nodes = torch.randperm(N)[:25]
    sub, edge_id = induced_subgraph(graph, nodes)
    _check_induced(sub, graph, nodes)
    assert torch.equal(sub.score, edge_id.float()) and torch.equal(sub.edge_tag, edge_id)
    assert torch.equal(sub.weight, nodes.float())
    pyg_data = pytest.importorskip("torch_geometric.data")
    theirs = pyg_data.Data(edge_index=graph.edge_index, num_nodes=N, score=graph.score).subgraph(nodes)
    assert sorted(theirs.score.tolist()) == sorted(sub.score.tolist())

    isolated = gnnx.Graph(torch.tensor([[0, 2], [2, 3]]), 5, weight=torch.arange(5.0), score=torch.tensor([1.0, 2.0]))
    kept = RemoveIsolatedNodes()(isolated)
    assert kept.weight.tolist() == [0.0, 2.0, 3.0] and kept.score.tolist() == [1.0, 2.0]

    cloud = gnnx.Graph(torch.zeros(2, 0, dtype=torch.long), 6, pos=torch.rand(6, 3), weight=torch.arange(6.0))
    assert FixedPoints(4)(cloud).weight.shape == (4,)
    with pytest.raises(ValueError, match="coarsening of edges"):
        GridSampling(0.5)(cloud.replace(edge_mask=torch.ones(6, dtype=torch.bool)))
