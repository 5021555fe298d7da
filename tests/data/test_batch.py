"""Batching: disjoint union, padding to buckets (masked out of aggregation and readout)."""
import pytest
import torch

import gnnx
from gnnx.data import Batch, DataLoader, pad_to_buckets
from gnnx.datasets import GraphClassification
from gnnx.nn import GIN, GraphSAGE, global_add_pool, global_mean_pool


def _graphs(count=5, seed=0):
    gen = torch.Generator().manual_seed(seed)
    out = []
    for i in range(count):
        n = 3 + i * 2
        out.append(gnnx.Graph(torch.randint(n, (2, 2 * n), generator=gen), n, x=torch.randn(n, 4, generator=gen),
                              y=torch.tensor(i % 2)))
    return out


def test_disjoint_union_offsets_and_bookkeeping():
    graphs = _graphs()
    batch = Batch.from_graphs(graphs)
    assert batch.num_graphs == 5 and batch.num_nodes == sum(g.num_nodes for g in graphs)
    assert batch.ptr.tolist() == [0, 3, 8, 15, 24, 35]
    assert batch.y.tolist() == [0, 1, 0, 1, 0]
    assert torch.equal(batch.edge_index[:, graphs[0].num_edges:][:, :graphs[1].num_edges], graphs[1].edge_index + 3)
    assert torch.equal(batch.batch, torch.repeat_interleave(torch.arange(5), torch.tensor([3, 5, 7, 9, 11])))


def test_batched_model_equals_per_graph():
    graphs = _graphs()
    batch = Batch.from_graphs(graphs)
    model = GraphSAGE(4, 8, 2, 3).eval()
    with torch.no_grad():
        out = model(batch.x, batch.edge_index)
        pooled = global_mean_pool(out, batch.batch, size=batch.num_graphs)
        for i, g in enumerate(graphs):
            torch.testing.assert_close(pooled[i], model(g.x, g.edge_index).mean(0), rtol=1e-5, atol=1e-6)


def test_padding_is_masked_out_of_aggregation_and_readout():
    graphs = _graphs()
    batch = Batch.from_graphs(graphs)
    padded = pad_to_buckets(batch, node_buckets=[64, 128], edge_buckets=[128, 256], graph_buckets=[8, 16])
    assert (padded.num_nodes, padded.num_edges, padded.num_graphs) == (64, 128, 8)
    assert int(padded.node_mask.sum()) == batch.num_nodes and int(padded.graph_mask.sum()) == 5
    model = GIN(4, 8, 2, 3).eval()
    with torch.no_grad():
        real = global_add_pool(model(batch.x, batch.edge_index), batch.batch, size=batch.num_graphs)
        pad = global_add_pool(model(padded.x, padded.edge_index), padded.batch, size=padded.num_graphs)
    torch.testing.assert_close(pad[padded.graph_mask], real, rtol=1e-5, atol=1e-5)


def test_padded_training_step_equals_unpadded_with_node_mask():
    """Batch norm in training mode: node_mask keeps padded nodes out of the statistics, so the
    loss, gradients and running statistics equal the unpadded batch's (compiled: one frame)."""
    graphs = _graphs()
    batch = Batch.from_graphs(graphs)
    padded = pad_to_buckets(batch, node_buckets=[64], edge_buckets=[128], graph_buckets=[8])
    torch.manual_seed(0)
    real_model = GIN(4, 8, 2, 3, norm="batch_norm").train()
    pad_model = GIN(4, 8, 2, 3, norm="batch_norm").train()
    pad_model.load_state_dict(real_model.state_dict())

    def step(model, b, mask, node_mask=None):
        out = global_add_pool(model(b.x, b.edge_index, node_mask=node_mask), b.batch, size=b.num_graphs)
        loss = out[mask].square().sum()
        loss.backward()
        return loss

    loss = step(real_model, batch, slice(None))
    compiled = torch.compile(pad_model, fullgraph=True)
    pad_loss = step(lambda *a, **k: compiled(*a, **k), padded, padded.graph_mask, padded.node_mask)
    torch.testing.assert_close(pad_loss, loss, rtol=1e-5, atol=1e-5)
    for (name, p), q in zip(real_model.named_parameters(), pad_model.parameters()):
        torch.testing.assert_close(q.grad, p.grad, rtol=1e-4, atol=1e-4, msg=lambda m: f"{name}: {m}")
    for (name, b), c in zip(real_model.named_buffers(), pad_model.buffers()):
        torch.testing.assert_close(c, b, rtol=1e-5, atol=1e-6, msg=name)
    # Without the mask the padded nodes shift the statistics: what this test guards against.
    pad_model.load_state_dict(real_model.state_dict())
    with torch.no_grad():
        unmasked = global_add_pool(pad_model(padded.x, padded.edge_index), padded.batch, size=padded.num_graphs)
        masked = global_add_pool(pad_model(padded.x, padded.edge_index, node_mask=padded.node_mask), padded.batch,
                                 size=padded.num_graphs)
    assert not torch.allclose(unmasked[padded.graph_mask], masked[padded.graph_mask], atol=1e-3)


def test_masked_batch_norm_rejects_a_bad_mask():
    bn = gnnx.nn.BatchNorm(4)
    with pytest.raises(ValueError, match="node_mask must be a bool vector of length 6"):
        bn(torch.randn(6, 4), torch.ones(5, dtype=torch.bool))


def test_too_large_for_buckets_is_a_clear_error():
    batch = Batch.from_graphs(_graphs())
    with pytest.raises(ValueError, match="node count .* exceeds the largest bucket 16"):
        pad_to_buckets(batch, [16], [1024])


def test_loader_with_buckets_compiles_once(tmp_path):
    dataset = GraphClassification("MUTAG")
    loader = DataLoader(dataset.graphs, batch_size=32, shuffle=True, node_buckets=[1024], edge_buckets=[2048],
                        graph_buckets=[33])
    model = GIN(dataset.num_features, 16, 2, dataset.num_classes)
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    with torch._dynamo.config.patch(error_on_recompile=True):
        for i, batch in enumerate(loader):
            out = global_add_pool(compiled(batch.x, batch.edge_index), batch.batch, size=batch.num_graphs)
            assert out.shape == (33, dataset.num_classes)
            if i == 3:
                break


def test_batching_names_fields_whose_shapes_disagree():
    g1 = gnnx.Graph(torch.tensor([[0, 1], [1, 0]]), 2, x=torch.randn(2, 3))
    g2 = gnnx.Graph(torch.tensor([[0], [1]]), 3, x=torch.randn(3, 4))
    with pytest.raises(ValueError, match=r"'x' of graph 1 is torch.float32 \[3, 4\]"):
        Batch.from_graphs([g1, g2])
    with pytest.raises(TypeError, match="num_nodes must be an int"):
        gnnx.Graph(torch.tensor([[0], [1]]), 2.5)
