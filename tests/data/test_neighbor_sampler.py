"""PyG's older NeighborSampler: layer-wise bipartite blocks over real edges, targets first,
PyG's tuple layout; a GraphSAGE trains through it as in PyG's old examples."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.loader import NeighborSampler


def _edges(num_nodes=50, num_edges=300, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(0, num_nodes, (2, num_edges), generator=gen)


@pytest.mark.parametrize("sizes", [[5, 3], [-1, -1], [4]])
def test_blocks_hold_real_edges_with_targets_first(sizes):
    edge_index = _edges()
    torch.manual_seed(0)
    loader = NeighborSampler(edge_index, sizes=sizes, batch_size=8, shuffle=True)
    for batch_size, n_id, adjs in loader:
        adjs = adjs if isinstance(adjs, list) else [adjs]
        assert len(adjs) == len(sizes) and n_id.unique().numel() == n_id.numel()
        previous_targets = n_id.numel()
        for hop, (block, e_id, size) in enumerate(adjs):  # outermost block first
            assert size[0] == previous_targets and size[0] >= size[1]
            previous_targets = size[1]
            src, dst = n_id[block[0]], n_id[block[1]]
            assert torch.equal(edge_index[:, e_id], torch.stack([src, dst]))  # real edges, ids right
            assert int(block[1].max()) < size[1] and int(block[0].max()) < size[0]
            fanout = sizes[::-1][hop]
            in_degree = torch.bincount(edge_index[1], minlength=50)
            per_target = torch.bincount(block[1], minlength=size[1])
            expected = in_degree[n_id[:size[1]]] if fanout < 0 else in_degree[n_id[:size[1]]].clamp(max=fanout)
            assert torch.equal(per_target, expected)
        assert adjs[-1].size[1] == batch_size


def test_graphsage_trains_through_the_blocks_the_old_pyg_way():
    edge_index = _edges(seed=1)
    x, y = torch.randn(50, 6), torch.randint(0, 3, (50,))
    convs = torch.nn.ModuleList([gnn.SAGEConv(6, 16), gnn.SAGEConv(16, 3)])
    optimizer = torch.optim.Adam(convs.parameters(), lr=0.01)
    loader = NeighborSampler(edge_index, node_idx=torch.arange(50) < 30, sizes=[10, 5], batch_size=10, shuffle=True)
    assert repr(loader) == "NeighborSampler(sizes=[10, 5])"
    for batch_size, n_id, adjs in loader:
        h = x[n_id]
        for i, (block, _, size) in enumerate(adjs):
            h = convs[i]((h, h[:size[1]]), block)
            h = h.relu() if i == 0 else h
        loss = torch.nn.functional.cross_entropy(h, y[n_id[:batch_size]])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        assert h.shape == (batch_size, 3)


def test_sparse_adjacency_and_bad_input():
    edge_index = _edges(seed=2)
    adj_t = torch.sparse_coo_tensor(edge_index.flip(0), torch.ones(300), (50, 50))
    _, n_id, (block, e_id, size) = NeighborSampler(adj_t, sizes=[-1]).sample([3])
    assert set(n_id[block[0]].tolist()) == set(edge_index[0][edge_index[1] == 3].tolist())
    with pytest.raises(ValueError, match=r"node_idx holds nodes outside \[0, 50\)"):
        NeighborSampler(edge_index, sizes=[2], node_idx=torch.tensor([60]), num_nodes=50)
    with pytest.raises(ValueError, match="edge_index"):
        NeighborSampler(edge_index, sizes=[2], num_nodes=10)
