"""SGFormer and SGFormerAttention against PyG (keys, values with the dense batch's padding
effect, gradients); compiled without recompiles and exported with dynamic node and graph counts."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.nn.attention import SGFormerAttention

pyg_nn = pytest.importorskip("torch_geometric.nn")


def _batch(sizes, seed=0, features=6):
    gen = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edge_index = torch.cat([torch.randint(int(sum(sizes[:i])), int(sum(sizes[:i + 1])), (2, 3 * s), generator=gen)
                            for i, s in enumerate(sizes)], 1)
    perm = torch.randperm(n, generator=gen)  # PyG sorts an unsorted batch; the result is per row
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(n)
    return torch.randn(n, features, generator=gen)[perm], inverse[edge_index], batch[perm]


def test_attention_equals_pyg():
    torch.manual_seed(0)
    ours, theirs = SGFormerAttention(8, heads=2, head_channels=5), pyg_nn.attention.SGFormerAttention(8, 2, 5)
    ours.load_state_dict(theirs.state_dict())
    x, mask = torch.randn(3, 7, 8), torch.rand(3, 7) < 0.7
    torch.testing.assert_close(ours(x, mask), theirs(x.clone(), mask), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("aggregate", ["add", "cat"])
def test_sgformer_equals_pyg_with_the_padding_effect(aggregate):
    torch.manual_seed(0)
    theirs = pyg_nn.models.SGFormer(6, 16, 3, trans_num_heads=2, aggregate=aggregate).eval()
    ours = gnn.SGFormer(6, 16, 3, trans_num_heads=2, aggregate=aggregate).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x, edge_index, batch = _batch([5, 9, 2])
    got, expected = ours(x, edge_index, batch), theirs(x, edge_index, batch)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    alone = ours(x[batch == 2], edge_index[:, :0], torch.zeros(2, dtype=torch.long))  # smaller batch: other values
    assert not torch.allclose(alone, got[batch == 2], atol=1e-4)
    x.requires_grad_(True)
    grad = torch.autograd.grad(ours(x, edge_index, batch)[:, 0].sum(), x)[0]
    x2 = x.detach().clone().requires_grad_(True)
    expected_grad = torch.autograd.grad(theirs(x2, edge_index, batch)[:, 0].sum(), x2)[0]
    torch.testing.assert_close(grad, expected_grad, rtol=1e-4, atol=1e-5)
    assert len(ours.params1) == len(theirs.params1) and len(ours.params2) == len(theirs.params2)


def test_sgformer_compiles_once_and_exports():
    torch.manual_seed(0)
    model = gnn.SGFormer(6, 16, 3).eval()
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 9, 2], [4, 4, 7, 3], [11, 6]]):
        x, edge_index, batch = _batch(sizes, seed=i)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, edge_index, batch, len(sizes))
            torch.testing.assert_close(got, model(x, edge_index, batch), rtol=1e-4, atol=1e-5)
    x, edge_index, batch = _batch([5, 9, 2])
    nodes, edges = torch.export.Dim("nodes", min=2), torch.export.Dim("edges", min=2)
    program = torch.export.export(model, (x, edge_index, batch, 3),
                                  dynamic_shapes=({0: nodes}, {1: edges}, {0: nodes}, torch.export.Dim.DYNAMIC))
    x, edge_index, batch = _batch([4, 4, 7, 3], seed=1)
    with torch.no_grad():
        torch.testing.assert_close(program.module()(x, edge_index, batch, 4), model(x, edge_index, batch),
                                   rtol=1e-4, atol=1e-5)
