"""GroupAddRev (RevGNN) against PyG's: same weights -> same outputs, inverse, input and
weight gradients; the eager block frees its input; compiled calls equal eager ones."""
import pytest
import torch

import gnnx.nn as G

P = pytest.importorskip("torch_geometric.nn")


class Block(torch.nn.Module):
    """RevGNN's group layer: norm, activation, convolution."""

    def __init__(self, lib, channels):
        super().__init__()
        self.norm = torch.nn.LayerNorm(channels)
        self.conv = lib.SAGEConv(channels, channels)

    def reset_parameters(self):
        self.norm.reset_parameters()
        self.conv.reset_parameters()

    def forward(self, x, edge_index, dropout_mask=None):
        x = self.norm(x).relu()
        if dropout_mask is not None:
            x = x * dropout_mask
        return self.conv(x, edge_index)


def _pair(num_groups=2, channels=8):
    torch.manual_seed(0)
    theirs = P.GroupAddRev(Block(P, channels // num_groups), num_groups=num_groups)
    ours = G.GroupAddRev(Block(G, channels // num_groups), num_groups=num_groups)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("num_groups", [2, 4])
def test_group_add_rev_equals_pyg(num_groups):
    ours, theirs = _pair(num_groups)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    g = torch.Generator().manual_seed(1)
    x0, edge_index = torch.randn(20, 8, generator=g), torch.randint(0, 20, (2, 60), generator=g)
    mask = (torch.rand(20, 8 // num_groups, generator=g) > 0.2).float()
    results = []
    for model in (ours, theirs):
        x = x0.clone().requires_grad_()
        out = model(x * 1.0, edge_index, mask)  # the block frees its input: give it a temporary
        kept = out.detach().clone()  # the backward frees the output too
        out.square().sum().backward()
        results.append((kept, x.grad, [p.grad.clone() for p in model.parameters()]))
        with torch.no_grad():
            torch.testing.assert_close(model.inverse(kept.clone(), edge_index, mask), x0, atol=1e-5, rtol=1e-5)
    (out_a, grad_a, params_a), (out_b, grad_b, params_b) = results
    torch.testing.assert_close(out_a, out_b)
    # the backward runs on inputs rebuilt from the outputs, which carries each library's
    # rounding through every group: a looser tolerance for the gradients
    torch.testing.assert_close(grad_a, grad_b, atol=5e-4, rtol=1e-3)
    for a, b in zip(params_a, params_b):
        torch.testing.assert_close(a, b, atol=5e-4, rtol=1e-3)


def test_input_storage_is_freed_and_two_backward_passes_need_num_bwd_passes():
    ours, _ = _pair()
    x = torch.randn(10, 8, requires_grad=True) * 1.0
    edge_index = torch.randint(0, 10, (2, 30))
    out = ours(x, edge_index)
    assert x.untyped_storage().size() == 0
    loss = out.sum()  # built before the backward frees the output
    loss.backward(retain_graph=True)
    assert out.untyped_storage().size() == 0
    with pytest.raises(RuntimeError, match="num_bwd_passes"):
        loss.backward()
    assert G.GroupAddRev(Block(G, 4), num_groups=2, disable=True)(x.detach().clone(), edge_index).shape == (10, 8)
    with pytest.raises(ValueError, match="smaller than '2'"):
        G.GroupAddRev(torch.nn.ModuleList([Block(G, 4)]))


def test_compiled_equals_eager():
    ours, _ = _pair()
    edge_index = torch.randint(0, 12, (2, 40))
    x = torch.randn(12, 8)
    expected = ours(x.clone(), edge_index)
    compiled = torch.compile(ours, fullgraph=True, dynamic=True)
    torch.testing.assert_close(compiled(x.clone(), edge_index), expected)
    xg = x.clone().requires_grad_()
    compiled(xg, edge_index).sum().backward()
    xe = x.clone().requires_grad_()
    G.GroupAddRev(ours.convs, disable=True)(xe, edge_index).sum().backward()
    torch.testing.assert_close(xg.grad, xe.grad)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_group_add_rev_on_cuda_equals_the_cpu():
    ours, _ = _pair()
    g = torch.Generator().manual_seed(3)
    x0, edge_index = torch.randn(30, 8, generator=g), torch.randint(0, 30, (2, 90), generator=g)
    grads = []
    for device in ("cpu", "cuda"):
        model = ours.to(device)
        x = x0.detach().to(device).requires_grad_()
        model(x * 1.0, edge_index.to(device)).square().sum().backward()
        grads.append((x.grad.cpu(), [p.grad.cpu().clone() for p in model.parameters()]))
        model.zero_grad()
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-4, rtol=1e-3)
    for a, b in zip(grads[0][1], grads[1][1]):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
