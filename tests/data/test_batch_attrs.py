"""Batching keeps every attribute, joined as PyG's Batch.from_data_list joins it."""
import pytest
import torch

import gnnx
from gnnx.data import Batch, DataLoader


def _graph(n, e, i):
    gen = torch.Generator().manual_seed(i)
    return gnnx.Graph(torch.randint(0, n, (2, e), generator=gen), n, x=torch.randn(n, 3, generator=gen),
                      y=torch.tensor(i % 2), train_mask=torch.rand(n, generator=gen) < 0.5,
                      edge_label=torch.randint(0, 3, (e,), generator=gen),
                      pair_index=torch.randint(0, n, (2, 4), generator=gen), face=torch.randint(0, n, (3, 2), generator=gen),
                      weight=torch.tensor(0.5 * i), u=torch.randn(1, 4, generator=gen),
                      sub_batch=torch.randint(0, 3, (n,), generator=gen), num_atoms=n, temp=1.5 * i,
                      is_big=n > 4, smiles=f"C{i}")


def test_attributes_are_batched_as_pyg_batches_them():
    pyg_data = pytest.importorskip("torch_geometric.data")
    graphs = [_graph(5, 9, 0), _graph(3, 4, 1), _graph(6, 12, 2)]
    ours = Batch.from_graphs(graphs)
    theirs = pyg_data.Batch.from_data_list([g.to_pyg() for g in graphs])
    for name in ("edge_index", "x", "y", "train_mask", "edge_label", "pair_index", "face", "weight", "u", "sub_batch",
                 "num_atoms", "temp", "is_big", "batch", "ptr"):
        assert torch.equal(getattr(ours, name), getattr(theirs, name)), name
    assert ours.smiles == theirs.smiles == ["C0", "C1", "C2"]
    loaded = next(iter(DataLoader([g.to_pyg() for g in graphs], batch_size=3)))  # PyG Data in, as PyG batches
    assert torch.equal(loaded.pair_index, theirs.pair_index) and loaded.smiles == theirs.smiles


def test_a_missing_attribute_is_named():
    graphs = [_graph(5, 9, 0), gnnx.Graph(torch.tensor([[0], [1]]), 2, x=torch.randn(2, 3), y=torch.tensor(1))]
    with pytest.raises(ValueError, match="some graphs have 'train_mask' and some do not"):
        Batch.from_graphs(graphs)
