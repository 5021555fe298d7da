"""ShaDowKHopSampler: each seed's subgraph is the one induced by the nodes its hops reach;
with every neighbour drawn, PyG's exact k-hop subgraph (PyG's own sampler needs torch-sparse)."""
import pytest
import torch

import gnnx
import gnnx.nn as gnn
from gnnx.data import ShaDowKHopSampler
from gnnx.loader import ShaDowKHopSampler as LoaderName


def _graph(num_nodes=60, num_edges=240, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    return gnnx.Graph(edge_index, num_nodes, x=torch.randn(num_nodes, 4, generator=gen),
                      y=torch.randint(0, 3, (num_nodes,), generator=gen),
                      edge_attr=torch.randn(edge_index.size(1), 2, generator=gen),
                      train_mask=torch.rand(num_nodes, generator=gen) < 0.5)


def _subgraphs(batch):
    for i in range(batch.num_graphs):
        lo, hi = int(batch.ptr[i]), int(batch.ptr[i + 1])
        inside = (batch.edge_index[1] >= lo) & (batch.edge_index[1] < hi)
        yield lo, hi, batch.edge_index[:, inside] - lo, inside


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_every_neighbour_drawn_gives_pygs_exact_k_hop_subgraphs(depth):
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    graph = _graph()
    max_degree = int(graph.in_degree.max())
    loader = ShaDowKHopSampler(graph, depth=depth, num_neighbors=max_degree, batch_size=7, shuffle=False)
    assert LoaderName is ShaDowKHopSampler
    seen = 0
    for batch in loader:
        for i, (lo, hi, edges, inside) in enumerate(_subgraphs(batch)):
            root = int(loader.node_idx[seen])
            subset, edge_index, mapping, edge_mask = pyg_utils.k_hop_subgraph(
                root, depth, graph.edge_index, relabel_nodes=True, num_nodes=graph.num_nodes)
            assert torch.equal(batch.n_id[lo:hi], subset)
            assert int(batch.root_n_id[i]) - lo == int(mapping)
            expected = sorted(map(tuple, edge_index.t().tolist()))
            assert sorted(map(tuple, edges.t().tolist())) == expected
            assert sorted(batch.e_id[inside].tolist()) == edge_mask.nonzero().view(-1).tolist()
            assert int(batch.y[i]) == int(graph.y[root])
            seen += 1
    assert seen == graph.num_nodes


@pytest.mark.parametrize("replace", [False, True])
def test_sampled_subgraphs_are_induced_and_within_k_hops(replace):
    pyg_utils = pytest.importorskip("torch_geometric.utils")
    graph = _graph(seed=1)
    torch.manual_seed(0)
    seeds = torch.tensor([3, 17, 17, 42])
    batch = next(iter(ShaDowKHopSampler(graph, depth=2, num_neighbors=2, node_idx=seeds, replace=replace,
                                        batch_size=4)))
    assert batch.num_graphs == 4 and batch.batch.tolist() == sorted(batch.batch.tolist())
    edges = set(map(tuple, graph.edge_index.t().tolist()))
    for i, (lo, hi, sub_edges, inside) in enumerate(_subgraphs(batch)):
        nodes = batch.n_id[lo:hi]
        exact, _, _, _ = pyg_utils.k_hop_subgraph(int(seeds[i]), 2, graph.edge_index, num_nodes=graph.num_nodes)
        assert set(nodes.tolist()) <= set(exact.tolist()) and int(nodes[batch.root_n_id[i] - lo]) == int(seeds[i])
        induced = {(a, b) for a, b in edges if a in set(nodes.tolist()) and b in set(nodes.tolist())}
        assert {(int(nodes[a]), int(nodes[b])) for a, b in sub_edges.t().tolist()} == induced
    # per-node and per-edge tensors follow n_id and e_id
    assert torch.equal(batch.x, graph.x[batch.n_id]) and torch.equal(batch.train_mask, graph.train_mask[batch.n_id])
    assert torch.equal(batch.edge_attr, graph.edge_attr[batch.e_id])
    assert torch.equal(graph.edge_index[:, batch.e_id], batch.n_id[batch.edge_index])


def test_a_model_reads_its_roots():
    graph = _graph(seed=2)
    loader = ShaDowKHopSampler(graph, depth=2, num_neighbors=3, node_idx=graph.train_mask, batch_size=16, shuffle=True)
    model = gnn.GraphSAGE(4, 8, num_layers=3, out_channels=3)
    for batch in loader:
        out = model(batch.x, batch.edge_index)[batch.root_n_id]
        assert out.shape == (batch.num_graphs, 3) and batch.y.shape == (batch.num_graphs,)
        torch.nn.functional.cross_entropy(out, batch.y).backward()


def test_bad_arguments_are_named():
    graph = _graph()
    with pytest.raises(ValueError, match="depth must be a non-negative int"):
        ShaDowKHopSampler(graph, depth=-1, num_neighbors=2)
    with pytest.raises(ValueError, match="num_neighbors must be a positive int"):
        ShaDowKHopSampler(graph, depth=2, num_neighbors=0)
    with pytest.raises(ValueError, match=r"node_idx holds nodes outside \[0, 60\)"):
        ShaDowKHopSampler(graph, depth=2, num_neighbors=2, node_idx=torch.tensor([60]))
    with pytest.raises(ValueError, match="mask needs 60 entries"):
        ShaDowKHopSampler(graph, depth=2, num_neighbors=2, node_idx=torch.ones(5, dtype=torch.bool))
