"""DimeNet and DimeNet++ against PyG's with the same weights: energies and forces. PyG's
models need torch-cluster and torch-sparse, which do not install for current torch: the test
gives PyG's module gnnx's radius graph and triplets (the triplets are checked on their own
against a brute-force enumeration) and needs scipy for PyG's basis zeros."""
import itertools

import pytest
import torch

import gnnx.nn as G
from cases import export_molecular
from gnnx.nn.dimenet import triplets
from gnnx.nn.dimenet_basis import bessel_zeros

pyg_dimenet = pytest.importorskip("torch_geometric.nn.models.dimenet")


def _molecules(seed=0):
    """Two molecules of 7 and 5 atoms, atoms at least 1 Angstrom apart."""
    g = torch.Generator().manual_seed(seed)
    positions = []
    for count in (7, 5):
        points = []
        while len(points) < count:
            candidate = torch.rand(3, generator=g) * 4.0
            if all((candidate - p).norm() > 1.0 for p in points):
                points.append(candidate)
        positions.append(torch.stack(points))
    pos = torch.cat(positions)
    return torch.randint(1, 10, (12,), generator=g), pos, torch.tensor([0] * 7 + [1] * 5)


def test_triplets_enumerate_every_two_edge_path():
    g = torch.Generator().manual_seed(1)
    edge_index = torch.randint(0, 6, (2, 20), generator=g)
    edge_index = edge_index[:, edge_index[0] != edge_index[1]]
    i, j, idx_i, idx_j, idx_k, idx_kj, idx_ji = triplets(edge_index, num_nodes=6)
    assert torch.equal(i, edge_index[1]) and torch.equal(j, edge_index[0])
    expected = sorted((e2, e1) for e1, e2 in itertools.product(range(edge_index.size(1)), repeat=2)
                      if edge_index[1, e2] == edge_index[0, e1] and edge_index[0, e2] != edge_index[1, e1])
    got = sorted(zip(idx_kj.tolist(), idx_ji.tolist()))
    assert got == expected
    assert torch.equal(idx_k, edge_index[0][idx_kj]) and torch.equal(idx_i, edge_index[1][idx_ji])


def test_bessel_zeros_are_zeros():
    special = pytest.importorskip("scipy.special")
    zeros = bessel_zeros(7, 6)
    for order in range(7):
        values = special.spherical_jn(order, zeros[order].astype("float64"))
        assert abs(values).max() < 1e-6


@pytest.mark.parametrize("plus", [False, True])
def test_dimenet_equals_pyg(plus, monkeypatch):
    pytest.importorskip("scipy")
    monkeypatch.setattr(pyg_dimenet, "radius_graph", G.radius_graph)
    monkeypatch.setattr(pyg_dimenet, "triplets", triplets)
    kwargs = dict(hidden_channels=16, out_channels=2, num_blocks=2, num_spherical=4, num_radial=3, cutoff=3.0,
                  output_initializer="glorot_orthogonal")
    if plus:
        kwargs.update(int_emb_size=8, basis_emb_size=4, out_emb_channels=12)
    else:
        kwargs.update(num_bilinear=3)
    torch.manual_seed(0)
    theirs = (pyg_dimenet.DimeNetPlusPlus if plus else pyg_dimenet.DimeNet)(**kwargs)
    ours = (G.DimeNetPlusPlus if plus else G.DimeNet)(**kwargs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    z, pos0, batch = _molecules()
    results = []
    for model in (ours, theirs):
        pos = pos0.clone().requires_grad_()
        energy = model(z, pos, batch)
        forces = -torch.autograd.grad(energy.sum(), pos)[0]
        results.append((energy, forces))
    # gnnx evaluates the spherical Bessel functions in their unsimplified forms, PyG in
    # sympy-simplified ones: the same functions up to float32 rounding
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-4, rtol=1e-3)


def test_refusals_and_bad_inputs():
    model = G.DimeNetPlusPlus(8, 1, 1, 4, 4, 8, 3, 2)
    with pytest.raises(NotImplementedError, match="not available in gnnx"):
        G.DimeNetPlusPlus.from_qm9_pretrained("root", None, 0)
    with pytest.raises(ValueError, match="pos \\[N, 3\\]"):
        model(torch.tensor([1, 2]), torch.randn(2, 2))
    with pytest.raises(ValueError, match="greater than 1"):
        G.DimeNet(8, 1, 1, 2, 1, 2)


def _batch(sizes, seed):
    g = torch.Generator().manual_seed(seed)
    z = torch.randint(1, 10, (sum(sizes),), generator=g)
    pos = torch.cat([torch.rand(n, 3, generator=g) * 3.0 + 10.0 * m for m, n in enumerate(sizes)])
    batch = torch.cat([torch.full((n,), m) for m, n in enumerate(sizes)])
    return z, pos, batch


def test_static_slots_compile_without_recompiling_and_export():
    torch.manual_seed(0)
    model = G.DimeNetPlusPlus(hidden_channels=16, out_channels=1, num_blocks=2, int_emb_size=8, basis_emb_size=4,
                              out_emb_channels=12, num_spherical=3, num_radial=3, cutoff=2.5, max_num_neighbors=6,
                              output_initializer="glorot_orthogonal").eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for attempt, sizes in enumerate([[5, 7, 3], [6, 4], [4, 8, 3, 5]]):
        z, pos, batch = _batch(sizes, attempt)
        with torch._dynamo.config.patch(error_on_recompile=attempt == 2):
            torch.testing.assert_close(compiled(z, pos, batch, batch_size=len(sizes)), model(z, pos, batch),
                                       atol=1e-5, rtol=1e-4)

    program = export_molecular(model, _batch([5, 7, 3], 0), 3)
    for seed, sizes in enumerate([[6, 3, 8, 4], [3]]):
        z, pos, batch = _batch(sizes, seed + 5)
        torch.testing.assert_close(program.module()(z, pos, batch, torch.zeros(len(sizes))), model(z, pos, batch),
                                   atol=1e-5, rtol=1e-4)


def test_static_slots_equal_the_exact_structure_with_forces():
    torch.manual_seed(1)
    model = G.DimeNet(hidden_channels=16, out_channels=2, num_blocks=2, num_bilinear=3, num_spherical=4,
                      num_radial=3, cutoff=3.0, max_num_neighbors=8, output_initializer="glorot_orthogonal")
    z, pos0, batch = _molecules(2)
    results = []
    for static in (False, True):
        model.static = static
        pos = pos0.clone().requires_grad_()
        energy = model(z, pos, batch, batch_size=2)
        results.append((energy, torch.autograd.grad(energy.sum(), pos)[0]))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-5, rtol=1e-4)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-5, rtol=1e-4)
    assert torch.isfinite(results[1][1]).all()


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("static", [False, True])
def test_dimenet_on_cuda_equals_the_cpu(static):
    torch.manual_seed(2)
    model = G.DimeNetPlusPlus(hidden_channels=16, out_channels=1, num_blocks=2, int_emb_size=8, basis_emb_size=4,
                              out_emb_channels=12, num_spherical=3, num_radial=3, cutoff=2.5, max_num_neighbors=6,
                              output_initializer="glorot_orthogonal", static=static)
    z, pos0, batch = _batch([5, 7, 3], 9)
    results = []
    for device in ("cpu", "cuda"):
        model.to(device)
        pos = pos0.to(device).requires_grad_()
        energy = model(z.to(device), pos, batch.to(device), batch_size=3)
        results.append((energy.detach().cpu(), torch.autograd.grad(energy.sum(), pos)[0].cpu()))
    torch.testing.assert_close(results[0][0], results[1][0], atol=1e-4, rtol=1e-3)
    torch.testing.assert_close(results[0][1], results[1][1], atol=1e-4, rtol=1e-3)
