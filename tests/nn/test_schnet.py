"""SchNet equals PyG's (values, forces = position gradients, parameter gradients, keys, repr),
PyG's radius graph supplied by gnnx's (PyG's needs torch-cluster); compiled without
recompiles as atom and molecule counts change, exported with dynamic counts (its AOTInductor
package: tests/export/test_models_package.py)."""
import pytest
import torch

import gnnx.nn as nn
from cases import export_molecular, random_molecules
from gnnx.nn.schnet import RadiusInteractionGraph

pyg_schnet = pytest.importorskip("torch_geometric.nn.models.schnet")

KWARGS = dict(hidden_channels=16, num_filters=12, num_interactions=2, num_gaussians=10, cutoff=3.0)


@pytest.fixture
def pyg_radius_graph(monkeypatch):
    monkeypatch.setattr(pyg_schnet, "radius_graph", nn.radius_graph)


def _pair(**kwargs):
    torch.manual_seed(0)
    ours, theirs = nn.SchNet(**KWARGS, **kwargs), pyg_schnet.SchNet(**KWARGS, **kwargs)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def _run(model, z, pos, batch=None):
    """Output, forces (position gradients) and parameter gradients under the squared output's sum."""
    model.zero_grad()
    pos = pos.clone().requires_grad_()
    out = model(z, pos, batch)
    out.square().sum().backward()
    return [out, pos.grad] + [p.grad for p in model.parameters()]


def _assert_same(got, expected):
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize("kwargs", [{}, {"readout": "mean"}, {"mean": 0.5, "std": 2.0},
                                    {"atomref": torch.linspace(-1, 1, 100).view(100, 1)}])
def test_equals_pygs(kwargs, pyg_radius_graph):
    ours, theirs = _pair(**kwargs)
    assert repr(ours) == repr(theirs) and list(ours.state_dict()) == list(theirs.state_dict())
    inputs = random_molecules([5, 9, 3, 7])
    _assert_same(_run(ours, *inputs), _run(theirs, *inputs))


def test_dipole_equals_pygs(pyg_radius_graph):
    pytest.importorskip("ase")
    ours, theirs = _pair(dipole=True)
    inputs = random_molecules([4, 6])
    torch.testing.assert_close(ours(*inputs), theirs(*inputs))


def test_static_interaction_graph_equals_the_exact_one():
    """The default static graph (slots and a mask) gives the same model as PyG's exact edges,
    also when max_num_neighbors truncates (both keep the nearest) and without a batch."""
    torch.manual_seed(0)
    exact = nn.SchNet(**KWARGS, max_num_neighbors=4)
    exact.interaction_graph = RadiusInteractionGraph(KWARGS["cutoff"], 4, static=False)
    static = nn.SchNet(**KWARGS, max_num_neighbors=4)
    static.load_state_dict(exact.state_dict())
    z, pos, batch = random_molecules([6, 8])
    for args in ((z, pos, batch), (z, pos)):
        _assert_same(_run(static, *args), _run(exact, *args))


def test_a_user_interaction_graph_is_called_as_pygs():
    calls = []

    def graph(pos, batch):
        calls.append(pos.size(0))
        edge_index = torch.tensor([[0, 1], [1, 0]])
        return edge_index, (pos[0] - pos[1]).norm().expand(2)

    model = nn.SchNet(**KWARGS, interaction_graph=graph)
    assert model(*random_molecules([3])).shape == (1, 1) and calls == [3]


def test_bad_inputs_are_named():
    model = nn.SchNet(**KWARGS)
    z, pos, batch = random_molecules([3, 4])
    with pytest.raises(ValueError, match="z must be an integer vector"):
        model(z.float(), pos, batch)
    with pytest.raises(ValueError, match="one row per atom"):
        model(z, pos[:-1], batch)


def test_compiles_without_recompiling_and_exports():
    model = nn.SchNet(**KWARGS).eval()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 9, 3], [7, 4], [6, 2, 8, 3]]):
        inputs = random_molecules(sizes, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(*inputs, batch_size=len(sizes)), model(*inputs), rtol=1e-4,
                                       atol=1e-5)

    program = export_molecular(model, random_molecules([5, 9, 3]), 3)
    for seed, sizes in enumerate([[6, 2, 8, 3, 4], [3]]):  # 3 atoms: fewer than the 32 neighbour slots
        inputs = random_molecules(sizes, seed=seed + 4)
        torch.testing.assert_close(program.module()(*inputs, torch.zeros(len(sizes))), model(*inputs), rtol=1e-4,
                                   atol=1e-5)
