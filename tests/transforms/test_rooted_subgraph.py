"""RootedEgoNets equal to PyG's (every field and map_data); RootedRWSubgraph's subgraphs
are what the walks visit (PyG's needs pyg-lib for the walks)."""
import pytest
import torch

import gnnx
from gnnx.transforms import RootedEgoNets, RootedRWSubgraph, RootedSubgraphData

FIELDS = ("sub_edge_index", "n_id", "e_id", "n_sub_batch", "e_sub_batch")


def _graph(num_nodes=15, num_edges=40, seed=0):
    gen = torch.Generator().manual_seed(seed)
    edge_index = torch.randint(0, num_nodes, (2, num_edges), generator=gen)
    return gnnx.Graph(edge_index, num_nodes, x=torch.randn(num_nodes, 3, generator=gen),
                      edge_attr=torch.randn(num_edges, 2, generator=gen), y=torch.arange(num_nodes))


@pytest.mark.parametrize("num_hops", [0, 1, 2, 3])
def test_ego_nets_equal_pyg(num_hops):
    pyg_transforms = pytest.importorskip("torch_geometric.transforms")
    graph = _graph(seed=num_hops)
    ours = RootedEgoNets(num_hops)(graph)
    theirs = pyg_transforms.RootedEgoNets(num_hops)(graph.to_pyg())
    assert isinstance(ours, RootedSubgraphData) and repr(RootedEgoNets(2)) == "RootedEgoNets(num_hops=2)"
    for name in FIELDS:
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    mapped, pyg_mapped = ours.map_data(), theirs.map_data()
    for name in ("x", "y", "edge_attr", "edge_index", "n_sub_batch"):
        assert torch.equal(getattr(mapped, name), getattr(pyg_mapped, name)), name
    assert mapped.num_nodes == pyg_mapped.num_nodes


def test_random_walk_subgraphs_hold_what_the_walks_visit():
    n, length = 9, 3
    cycle = torch.stack([torch.arange(n), (torch.arange(n) + 1) % n])  # one out-edge each: walks are fixed
    out = RootedRWSubgraph(walk_length=length, repeat=2)(gnnx.Graph(cycle, n))
    for root in range(n):
        members = out.n_id[out.n_sub_batch == root]
        assert members.tolist() == sorted((root + k) % n for k in range(length + 1))
        edges = out.e_id[out.e_sub_batch == root]
        assert edges.tolist() == sorted((root + k) % n for k in range(length))  # edge i joins i -> i+1
    graph = _graph(seed=5)
    out = RootedRWSubgraph(walk_length=4)(graph)
    src, dst = graph.edge_index
    for root in range(graph.num_nodes):
        members = set(out.n_id[out.n_sub_batch == root].tolist())
        assert root in members
        induced = sorted(e for e in range(graph.num_edges) if int(src[e]) in members and int(dst[e]) in members)
        assert out.e_id[out.e_sub_batch == root].tolist() == induced
    with pytest.raises(ValueError, match="walk_length must be >= 0"):
        RootedRWSubgraph(-1)
    with pytest.raises(ValueError, match="num_hops must be a non-negative int"):
        RootedEgoNets(1.5)
