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


def test_padding_to_buckets_pads_the_attributes_by_their_rows():
    from gnnx.data import pad_to_buckets

    graphs = [_graph(5, 9, 0), _graph(3, 4, 1)]
    batch = Batch.from_graphs(graphs)
    padded = pad_to_buckets(batch, node_buckets=[16], edge_buckets=[20], graph_buckets=[4])
    assert padded.train_mask.shape == (16,) and not padded.train_mask[8:].any()
    assert torch.equal(padded.train_mask[:8], batch.train_mask)
    assert padded.edge_label.shape == (20,) and torch.equal(padded.edge_label[:13], batch.edge_label)
    assert padded.weight.shape == (4,) and padded.u.shape == (4, 4) and torch.equal(padded.u[:2], batch.u)
    assert torch.equal(padded.pair_index, batch.pair_index) and padded.smiles == batch.smiles


def test_a_batch_comes_apart_into_its_graphs_as_pyg_batches_do():
    import io

    import numpy as np

    graphs = [_graph(5, 9, 0), _graph(3, 4, 1), _graph(6, 12, 2)]
    batch = Batch.from_data_list(graphs)  # PyG's name
    for original, example in zip(graphs, batch.to_data_list()):
        for name in ("edge_index", "x", "y", "train_mask", "edge_label", "pair_index", "face", "weight", "u",
                     "sub_batch"):
            assert torch.equal(getattr(example, name), getattr(original, name)), name
        assert example.smiles == original.smiles and example.num_nodes == original.num_nodes
    assert batch[1].num_nodes == 3 and batch[-1].num_nodes == 6 and len(batch[:2]) == 2
    assert len(batch.index_select(np.array([True, False, True]))) == 2
    assert [g.num_nodes for g in batch.index_select(torch.tensor([2, 0]))] == [6, 5]
    assert torch.equal(batch["x"], batch.x)
    buffer = io.BytesIO()
    torch.save(batch, buffer)
    buffer.seek(0)
    assert torch.equal(torch.load(buffer).get_example(2).face, graphs[2].face)  # weights_only load keeps the splits
    with pytest.raises(IndexError):
        batch.get_example(3)


def test_sparse_features_stack_and_adjacencies_join_block_diagonally():
    x = torch.randn(3, 4).to_sparse()
    adj = torch.sparse_coo_tensor(torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]), torch.rand(4), (3, 3))
    graph = gnnx.Graph(torch.empty(2, 0, dtype=torch.long), 3, x=x, adj=adj)
    batch = Batch.from_graphs([graph, graph])
    assert batch.x.shape == (6, 4) and torch.equal(batch.x.to_dense(), torch.cat([x.to_dense()] * 2))
    assert batch.adj.shape == (6, 6) and torch.equal(batch.adj.to_dense(), torch.block_diag(*[adj.to_dense()] * 2))
    assert torch.equal(batch[1].x.to_dense(), x.to_dense()) and torch.equal(batch[1].adj.to_dense(), adj.to_dense())


def test_a_batch_of_batches_keeps_the_inner_graphs():
    inner = Batch.from_graphs([_graph(2, 2, 0), _graph(2, 2, 1)])
    outer = Batch.from_graphs([inner, inner])
    assert outer.num_graphs == 2 and outer.batch.tolist() == [0, 0, 1, 1, 2, 2, 3, 3]
