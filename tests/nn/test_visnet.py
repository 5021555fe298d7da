"""ViSNet equals PyG's (energies, forces, parameter gradients, keys, repr, initial draws), PyG's
radius graph supplied by gnnx's (PyG's needs torch-cluster); compiled without recompiles as
atom and molecule counts change, exported with dynamic counts."""
import pytest
import torch

import gnnx.nn as nn
from cases import export_molecular, random_molecules
from gnnx.nn.visnet import VecLayerNorm

pyg_visnet = pytest.importorskip("torch_geometric.nn.models.visnet")

KWARGS = dict(hidden_channels=16, num_heads=4, num_layers=3, num_rbf=8, cutoff=2.5, max_num_neighbors=32)


def _molecules(sizes, seed=0):
    return random_molecules(sizes, seed, spread=3.0)


@pytest.fixture
def pyg_radius_graph(monkeypatch):
    monkeypatch.setattr(pyg_visnet, "radius_graph", nn.radius_graph)


def _pair(**kwargs):
    torch.manual_seed(0)
    ours = nn.ViSNet(**KWARGS, **kwargs)
    torch.manual_seed(0)
    theirs = pyg_visnet.ViSNet(**KWARGS, **kwargs)
    return ours, theirs


def _run(model, z, pos, batch):
    """Energies, forces (or position gradients) and parameter gradients of a loss on both."""
    model.zero_grad()
    pos = pos.clone().requires_grad_()
    energy, forces = model(z, pos, batch)
    loss = energy.square().sum() + (0 if forces is None else forces.square().sum())
    loss.backward()
    return [energy, pos.grad] + ([] if forces is None else [forces]) + [p.grad for p in model.parameters()]


@pytest.mark.parametrize("kwargs", [
    {},
    {"lmax": 2, "vecnorm_type": "max_min", "trainable_vecnorm": True, "trainable_rbf": True},
    {"vertex": True, "reduce_op": "mean", "mean": 0.5, "std": 2.0, "atomref": torch.linspace(-1, 1, 100)},
    {"derivative": True, "lmax": 2},
])
def test_equals_pygs(kwargs, pyg_radius_graph):
    ours, theirs = _pair(**kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), key  # the same draws for the same seed
    inputs = _molecules([5, 9, 3, 7])
    got, expected = _run(ours, *inputs), _run(theirs, *inputs)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        # force training differentiates twice: PyG's norm gives NaN at an atom's zero vectors, gnnx 0
        assert torch.isfinite(a).all()
        finite = torch.isfinite(b)
        torch.testing.assert_close(a[finite], b[finite], rtol=1e-4, atol=1e-5)


def test_molecules_stay_apart_with_few_neighbour_slots():
    """With fewer slots than neighbours, each molecule's energy still depends on its own atoms
    only (another molecule moved far away changes nothing)."""
    torch.manual_seed(0)
    model = nn.ViSNet(**{**KWARGS, "max_num_neighbors": 4}).eval()
    z, pos, batch = _molecules([8, 6])
    energy, _ = model(z, pos, batch)
    assert energy.shape == (2, 1) and torch.isfinite(energy).all()
    far = pos.clone()
    far[batch == 1] += 100.0  # another molecule's atoms never enter a slot
    torch.testing.assert_close(model(z, far, batch)[0], energy, rtol=1e-4, atol=1e-5)


def test_vector_norm_of_zero_vectors_is_zero():
    norm = VecLayerNorm(4, trainable=False, norm_type="max_min")
    assert torch.equal(norm(torch.zeros(3, 8, 4)), torch.zeros(3, 8, 4))


def test_bad_inputs_are_named():
    model = nn.ViSNet(**KWARGS)
    z, pos, batch = _molecules([3, 4])
    with pytest.raises(ValueError, match="z must be an integer vector"):
        model(z.float(), pos, batch)
    with pytest.raises(ValueError, match="one row per atom"):
        model(z, pos[:-1], batch)
    with pytest.raises(ValueError, match="one molecule per atom"):
        model(z, pos, batch[:-1])
    with pytest.raises(ValueError, match="'lmax' needs to be 1 or 2"):
        nn.ViSNet(**KWARGS, lmax=3)(z, pos, batch)


def test_compiles_without_recompiling_and_exports():
    torch.manual_seed(0)
    model = nn.ViSNet(**KWARGS, lmax=2).eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 9, 3], [7, 4], [6, 2, 8, 3]]):
        inputs = _molecules(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs, batch_size=len(sizes))[0], model(*inputs)[0], rtol=1e-4,
                                       atol=1e-5)

    program = export_molecular(model, _molecules([5, 9, 3]), 3)
    for seed, sizes in enumerate([[6, 2, 8, 3, 4], [3]]):
        inputs = _molecules(sizes, seed=seed + 4)
        torch.testing.assert_close(program.module()(*inputs, torch.zeros(len(sizes)))[0], model(*inputs)[0],
                                   rtol=1e-4, atol=1e-5)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_on_cuda_equals_the_cpu():
    torch.manual_seed(0)
    model = nn.ViSNet(**KWARGS, lmax=2, derivative=True)
    z, pos0, batch = _molecules([5, 9, 3])
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        energy, forces = model(z.to(device), pos0.clone().to(device), batch.to(device), batch_size=3)
        results.append((energy.detach().cpu(), forces.detach().cpu()))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, atol=1e-4, rtol=1e-3)
