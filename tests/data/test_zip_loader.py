"""ZipLoader: each step gives every loader's batch of the inputs at the same positions, as
PyG's; loaders' collate_fn samples the inputs asked for (PyG's input_id), and iterating a
loader is its collate_fn over batches of positions."""
import pytest
import torch

import gnnx
from gnnx.loader import LinkNeighborLoader, NeighborLoader, ZipLoader


def _graph():
    g = torch.Generator().manual_seed(0)
    return gnnx.Graph(torch.randint(40, (2, 200), generator=g), 40, x=torch.randn(40, 4, generator=g))


def test_zips_node_and_link_loaders_over_the_same_positions():
    graph = _graph()
    seeds = torch.tensor([3, 7, 11, 19, 23, 31, 2])
    nodes = NeighborLoader(graph, num_neighbors=[-1], input_nodes=seeds)  # exact, every neighbour: deterministic
    other = NeighborLoader(graph, num_neighbors=[-1], input_nodes=seeds.flip(0))
    links = LinkNeighborLoader(graph, num_neighbors=[-1], edge_label_index=graph.edge_index[:, :5])
    zipped = ZipLoader([nodes, other, links], batch_size=2)
    assert len(zipped) == 3  # the shortest loader (5 links) sets the length
    for step, (a, b, c) in enumerate(zipped):
        index = torch.arange(2 * step, min(2 * step + 2, 5))
        assert torch.equal(a.input_id, index) and torch.equal(a.n_id[:a.batch_size], seeds[index])
        assert torch.equal(b.n_id[:b.batch_size], seeds.flip(0)[index])
        expected = nodes.collate_fn(index)
        assert torch.equal(a.edge_index, expected.edge_index) and torch.equal(a.n_id, expected.n_id)
        assert torch.equal(c.input_id, index)
        assert torch.equal(c.n_id[c.edge_label_index], graph.edge_index[:, index])


def test_iterating_a_loader_is_its_collate_fn_over_positions():
    graph = _graph()
    loader = NeighborLoader(graph, fanouts=[3, 2], seeds=torch.arange(0, 40, 3), batch_size=4, shuffle=True, seed=5)
    replay = NeighborLoader(graph, fanouts=[3, 2], seeds=torch.arange(0, 40, 3), batch_size=4, shuffle=True, seed=5)
    order = torch.randperm(14, generator=torch.Generator().manual_seed(5))
    for i, batch in enumerate(loader):
        assert torch.equal(batch.n_id[:batch.batch_size], replay.seeds[order[4 * i:4 * i + 4]])


def test_bad_loaders_are_named():
    with pytest.raises(ValueError, match="at least one loader"):
        ZipLoader([])
    with pytest.raises(ValueError, match="'list' has no 'collate_fn'"):
        ZipLoader([[1, 2, 3]])
