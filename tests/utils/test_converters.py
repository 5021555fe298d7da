"""to_networkit / from_networkit, to_trimesh / from_trimesh and geodesic_distance against PyG's (each skipped
without its library)."""
import pytest
import torch

import gnnx.utils as U

PU = pytest.importorskip("torch_geometric.utils")


@pytest.mark.parametrize("directed", [True, False])
@pytest.mark.parametrize("weighted", [True, False])
def test_networkit_round_trip_equals_pyg(directed, weighted):
    pytest.importorskip("networkit")
    edge_index = torch.tensor([[0, 1, 1, 2, 3, 4], [1, 0, 2, 1, 0, 4]])
    weight = torch.rand(6) if weighted else None
    ours = U.from_networkit(U.to_networkit(edge_index, weight, 6, directed))
    theirs = PU.from_networkit(PU.to_networkit(edge_index, weight, 6, directed))
    assert torch.equal(ours[0], theirs[0])
    assert (ours[1] is None) == (theirs[1] is None) and (ours[1] is None or torch.equal(ours[1], theirs[1]))
    assert U.to_networkit(edge_index, weight, 6, directed).numberOfNodes() == 6


def test_trimesh_round_trip_equals_pyg():
    pytest.importorskip("trimesh")
    from torch_geometric.data import Data

    from gnnx.transforms import FaceToEdge

    pos = torch.rand(5, 3)
    face = torch.tensor([[0, 1, 2], [1, 2, 3], [2, 3, 4]]).t()
    mesh = PU.to_trimesh(Data(pos=pos, face=face))
    ours, theirs = U.from_trimesh(mesh), PU.from_trimesh(mesh)
    assert torch.equal(ours.pos, theirs.pos) and torch.equal(ours.face, theirs.face) and ours.num_edges == 0
    again = U.to_trimesh(ours)
    assert (again.faces == mesh.faces).all() and (again.vertices == mesh.vertices).all()
    assert FaceToEdge()(ours).num_edges == 14  # the mesh's 7 edges, both ways
    with pytest.raises(ValueError, match="face"):
        U.to_trimesh(ours.replace(face=None))


@pytest.mark.parametrize("kwargs", [{}, {"norm": False}, {"max_distance": 0.5}, {"src": torch.tensor([0, 3, 5])},
                                    {"src": torch.tensor([0, 3]), "dst": torch.tensor([7, 1])}])
def test_geodesic_distance_equals_pyg(kwargs):
    pytest.importorskip("gdist")
    trimesh = pytest.importorskip("trimesh")
    mesh = trimesh.creation.icosphere(subdivisions=1)
    pos, face = torch.from_numpy(mesh.vertices).float(), torch.from_numpy(mesh.faces).long().t()
    torch.testing.assert_close(U.geodesic_distance(pos, face, **kwargs), PU.geodesic_distance(pos, face, **kwargs),
                               rtol=0, atol=0)
    with pytest.raises(ValueError, match="pair up"):
        U.geodesic_distance(pos, face, src=torch.tensor([0, 1]), dst=torch.tensor([2]))
