"""LightGCN (and its LGConv, also a case of tests/cases.py): PyG's state-dict keys, scores,
heads, losses and gradients; compiled without recompiles as the edge count changes; exported
with dynamic edge counts."""
import pytest
import torch

import gnnx.nn

pyg_nn = pytest.importorskip("torch_geometric.nn")

NODES = 30


def _pair(**kwargs):
    torch.manual_seed(0)
    ours, theirs = gnnx.nn.LightGCN(NODES, 8, 2, **kwargs), pyg_nn.LightGCN(NODES, 8, 2, **kwargs)
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    theirs.load_state_dict(ours.state_dict())
    assert repr(ours) == repr(theirs)
    return ours, theirs


def _edges(count, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randint(NODES, (2, count), generator=gen), torch.randint(NODES, (2, 10), generator=gen)


@pytest.mark.porting
@pytest.mark.parametrize("kwargs", [{}, {"alpha": torch.tensor([0.5, 0.3, 0.2])}, {"normalize": False}])
def test_equals_pyg(kwargs):
    ours, theirs = _pair(**kwargs)
    edge_index, label_index = _edges(90, 0)
    weight = torch.rand(90)
    for args in ((edge_index,), (edge_index, label_index), (edge_index, label_index, weight)):
        torch.testing.assert_close(ours(*args), theirs(*args))
    torch.testing.assert_close(ours.predict_link(edge_index, label_index, prob=True),
                               theirs.predict_link(edge_index, label_index, prob=True))
    src, dst = torch.tensor([0, 3, 5]), torch.arange(10, 25)
    assert torch.equal(ours.recommend(edge_index, src_index=src, dst_index=dst, k=4),
                       theirs.recommend(edge_index, src_index=src, dst_index=dst, k=4))
    losses = []
    for model in (ours, theirs):
        pos, neg = model(edge_index, label_index), model(edge_index, label_index.flip(0))
        loss = model.recommendation_loss(pos, neg, node_id=label_index.flatten(), lambda_reg=1e-3)
        loss = loss + model.link_pred_loss(pos, torch.ones(10))
        loss.backward()
        losses.append(loss)
    torch.testing.assert_close(losses[0], losses[1])
    torch.testing.assert_close(ours.embedding.weight.grad, theirs.embedding.weight.grad)


def test_alpha_of_the_wrong_length_is_named():
    with pytest.raises(ValueError, match="num_layers \\+ 1 = 3 weights"):
        gnnx.nn.LightGCN(NODES, 8, 2, alpha=torch.ones(2))


def test_compiled_over_edge_counts_and_exported():
    model, _ = _pair()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, count in enumerate((60, 90, 120)):
        edge_index, label_index = _edges(count, i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(edge_index, label_index), model(edge_index, label_index))
    edges, labels = torch.export.Dim("edges", min=2), torch.export.Dim("labels", min=2)
    program = torch.export.export(model, _edges(60, 0), dynamic_shapes=({1: edges}, {1: labels}))
    edge_index, label_index = _edges(75, 5)
    torch.testing.assert_close(program.module()(edge_index, label_index), model(edge_index, label_index))
