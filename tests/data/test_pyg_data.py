"""gnnx.Graph / Batch and PyG's Data convert both ways; loaders take a list of PyG Data."""
import torch
from torch_geometric.data import Data

import gnnx
from gnnx.data import DataLoader


def _data(n, e, seed):
    gen = torch.Generator().manual_seed(seed)
    return Data(x=torch.randn(n, 4, generator=gen), edge_index=torch.randint(n, (2, e), generator=gen),
                y=torch.tensor(seed % 2), train_mask=torch.rand(n, generator=gen) > 0.5)


def test_round_trip_keeps_every_attribute():
    data = _data(7, 20, 0)
    graph = gnnx.Graph.from_pyg(data)
    assert graph.num_nodes == 7 and graph.x is data.x and graph.train_mask is data.train_mask
    back = graph.to_pyg()
    for key in ("x", "edge_index", "y", "train_mask"):
        assert torch.equal(back[key], data[key])
    assert back.num_nodes == 7


def test_loader_takes_pyg_data_and_matches_pyg_batching():
    from torch_geometric.loader import DataLoader as PyGLoader

    dataset = [_data(5 + i, 10 + 2 * i, i) for i in range(6)]
    ours = next(iter(DataLoader(dataset, batch_size=3)))
    theirs = next(iter(PyGLoader(dataset, batch_size=3)))
    assert torch.equal(ours.edge_index, theirs.edge_index)
    assert torch.equal(ours.batch, theirs.batch) and torch.equal(ours.ptr, theirs.ptr)
    assert torch.equal(ours.x, theirs.x) and torch.equal(ours.y, theirs.y)


def test_neighbor_loader_takes_pyg_signature_and_yields_seeds_first():
    import warnings

    from torch_geometric.loader import NeighborLoader as PyGNeighborLoader

    from gnnx.data import NeighborLoader
    from gnnx.datasets import Planetoid

    data = Planetoid("Cora")[0].to_pyg()
    ours = NeighborLoader(data, num_neighbors=[5, 3], input_nodes=data.train_mask, batch_size=32)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = PyGNeighborLoader(data, num_neighbors=[5, 3], input_nodes=data.train_mask, batch_size=32)
    assert len(ours) == len(theirs)
    edges = set(map(tuple, data.edge_index.t().tolist()))
    seeds = data.train_mask.nonzero().view(-1)
    for i, batch in enumerate(ours):
        assert batch.batch_size == min(32, seeds.numel() - 32 * i)
        assert torch.equal(batch.n_id[:batch.batch_size], seeds[32 * i:32 * i + batch.batch_size])  # unshuffled
        real = batch.n_id[batch.edge_index]
        assert all((int(s), int(d)) in edges for s, d in real.t())  # exact sampling: real edges only
