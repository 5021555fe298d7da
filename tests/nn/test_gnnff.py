"""GNNFF against PyG (given gnnx's radius graph and triplets, which PyG takes from torch-cluster
and torch-sparse): keys, forces in training and evaluation mode, gradients; forces rotate with
the molecule."""
import pytest
import torch

import gnnx.nn as G
from gnnx.nn.dimenet import triplets

pyg_gnnff = pytest.importorskip("torch_geometric.nn.models.gnnff")


def _molecules(seed=0):
    gen = torch.Generator().manual_seed(seed)
    sizes = [6, 9]
    z = torch.randint(1, 10, (sum(sizes),), generator=gen)
    pos = torch.randn(sum(sizes), 3, generator=gen) * 1.2
    return z, pos, torch.repeat_interleave(torch.arange(2), torch.tensor(sizes))


@pytest.mark.parametrize("training", [False, True])
def test_gnnff_equals_pyg(training, monkeypatch):
    monkeypatch.setattr(pyg_gnnff, "radius_graph", G.radius_graph)
    monkeypatch.setattr(pyg_gnnff, "triplets", triplets)
    torch.manual_seed(0)
    theirs = pyg_gnnff.GNNFF(16, 12, num_layers=2, cutoff=4.0).train(training)
    ours = G.GNNFF(16, 12, num_layers=2, cutoff=4.0).train(training)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    z, pos, batch = _molecules()
    pos.requires_grad_(True)
    got = ours(z, pos, batch)
    grad = torch.autograd.grad(got.square().sum(), pos)[0]
    pos2 = pos.detach().clone().requires_grad_(True)
    expected = theirs(z, pos2, batch)
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(grad, torch.autograd.grad(expected.square().sum(), pos2)[0], rtol=1e-4, atol=1e-5)


def test_forces_rotate_with_the_molecule():
    torch.manual_seed(0)
    model = G.GNNFF(16, 12, num_layers=2, cutoff=4.0).eval()
    z, pos, batch = _molecules(1)
    rotation, _ = torch.linalg.qr(torch.randn(3, 3, generator=torch.Generator().manual_seed(2)))
    with torch.no_grad():
        torch.testing.assert_close(model(z, pos @ rotation.t(), batch), model(z, pos, batch) @ rotation.t(),
                                   rtol=1e-4, atol=1e-5)
        torch.testing.assert_close(model(z, pos + 3.0, batch), model(z, pos, batch), rtol=1e-4, atol=1e-5)
    with pytest.raises(ValueError, match="z must be int64"):
        model(z.float(), pos, batch)
