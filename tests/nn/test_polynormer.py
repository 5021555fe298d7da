"""Polynormer and PolynormerAttention against PyG: keys, values in local and global mode (with
the dense batch's padding effect), gradients; the global mode compiles without recompiles."""
import pytest
import torch

import gnnx.nn as gnn
from gnnx.nn.attention import PolynormerAttention

pyg_nn = pytest.importorskip("torch_geometric.nn")


def _batch(sizes, seed=0, features=6):
    gen = torch.Generator().manual_seed(seed)
    batch = torch.repeat_interleave(torch.arange(len(sizes)), torch.tensor(sizes))
    edge_index = torch.cat([torch.randint(int(sum(sizes[:i])), int(sum(sizes[:i + 1])), (2, 3 * s), generator=gen)
                            for i, s in enumerate(sizes)], 1)
    perm = torch.randperm(batch.numel(), generator=gen)
    inverse = torch.empty_like(perm)
    inverse[perm] = torch.arange(perm.numel())
    return torch.randn(batch.numel(), features, generator=gen)[perm], inverse[edge_index], batch[perm]


@pytest.mark.parametrize("shared", [True, False])
def test_attention_equals_pyg(shared):
    torch.manual_seed(0)
    theirs = pyg_nn.attention.PolynormerAttention(8, heads=2, head_channels=4, qk_shared=shared)
    torch.manual_seed(0)
    ours = PolynormerAttention(8, heads=2, head_channels=4, qk_shared=shared)
    assert all(torch.equal(a, b) for a, b in zip(ours.state_dict().values(), theirs.state_dict().values()))
    x, mask = torch.randn(3, 7, 8), torch.rand(3, 7) < 0.7
    torch.testing.assert_close(ours(x, mask), theirs(x, mask), rtol=1e-5, atol=1e-6)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("kwargs", [{}, {"qk_shared": True, "pre_ln": True, "post_bn": False},
                                    {"local_attn": True, "heads": 2}])
def test_polynormer_equals_pyg_local_and_global(kwargs):
    torch.manual_seed(0)
    theirs = pyg_nn.models.Polynormer(6, 8, 3, local_layers=3, global_layers=2, **kwargs).eval()
    ours = gnn.Polynormer(6, 8, 3, local_layers=3, global_layers=2, **kwargs).eval()
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    x, edge_index, batch = _batch([5, 9, 2])
    if kwargs.get("heads", 1) > 1:  # PyG builds the global layers too narrow: only local mode runs
        ours._global = True
        with pytest.raises(ValueError, match="only heads=1 runs in global mode"):
            ours(x, edge_index, batch)
    for mode in (False, True) if kwargs.get("heads", 1) == 1 else (False,):
        ours._global = theirs._global = mode
        torch.testing.assert_close(ours(x, edge_index, batch), theirs(x, edge_index, batch), rtol=1e-4, atol=1e-5)
    x.requires_grad_(True)
    grad = torch.autograd.grad(ours(x, edge_index, batch)[:, 0].sum(), x)[0]
    x2 = x.detach().clone().requires_grad_(True)
    expected = torch.autograd.grad(theirs(x2, edge_index, batch)[:, 0].sum(), x2)[0]
    torch.testing.assert_close(grad, expected, rtol=1e-4, atol=1e-5)


def test_global_mode_compiles_once():
    torch.manual_seed(0)
    model = gnn.Polynormer(6, 8, 3, local_layers=2, global_layers=1).eval()
    model._global = True
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 9, 2], [4, 4, 7, 3], [11, 6]]):
        x, edge_index, batch = _batch(sizes, seed=i)
        with torch.no_grad(), torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(x, edge_index, batch, len(sizes)), model(x, edge_index, batch),
                                       rtol=1e-4, atol=1e-5)
