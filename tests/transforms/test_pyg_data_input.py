"""gnnx's transforms take PyG's ``Data`` and ``HeteroData`` (a port that changes
``torch_geometric.transforms`` to ``gnnx.transforms`` but still loads PyG's datasets) and give
PyG's objects back, equal to PyG's own transforms."""
import pytest
import torch

import gnnx.transforms as T

pyg_data = pytest.importorskip("torch_geometric.data")
PT = pytest.importorskip("torch_geometric.transforms")


def _data():
    gen = torch.Generator().manual_seed(0)
    edge_index = torch.randint(0, 10, (2, 30), generator=gen)
    return pyg_data.Data(x=torch.rand(10, 4, generator=gen), edge_index=edge_index, y=torch.randint(0, 3, (10,)))


@pytest.mark.parametrize("name,args", [("ToUndirected", ()), ("AddSelfLoops", ()), ("NormalizeFeatures", ()),
                                       ("GCNNorm", ()), ("RemoveSelfLoops", ()), ("OneHotDegree", (12,))])
def test_a_pyg_data_through_a_transform_equals_pyg(name, args):
    from torch_geometric.utils import sort_edge_index

    data = _data()
    got, want = getattr(T, name)(*args)(data), getattr(PT, name)(*args)(data)
    if name == "ToUndirected":  # the same edges; gnnx keeps them sorted by destination (its CSR order)
        got.edge_index = sort_edge_index(got.edge_index)
    assert type(got) is type(want) and set(got.keys()) == set(want.keys())
    for key in want.keys():
        torch.testing.assert_close(got[key], want[key])
    assert repr(getattr(T, name)(*args)) == repr(getattr(PT, name)(*args))


def test_point_clouds_without_edges_and_compose():
    """A ``Data`` with ``pos`` only stays without ``edge_index`` unless the transform adds one;
    ``Compose`` converts once."""
    pos = torch.rand(50, 3, generator=torch.Generator().manual_seed(1))
    data = pyg_data.Data(pos=pos)
    centred = T.Center()(data)
    assert "edge_index" not in centred.keys() and "num_nodes" not in centred.keys()
    torch.testing.assert_close(centred.pos, PT.Center()(data).pos)
    graph = T.Compose([T.NormalizeScale(), T.KNNGraph(k=4)])(data)
    assert isinstance(graph, pyg_data.Data) and graph.edge_index.size(1) == 50 * 4


def test_hetero_data_and_splits_come_back_as_pyg():
    hetero = pyg_data.HeteroData()
    hetero["a"].x, hetero["b"].x = torch.rand(4, 3), torch.rand(5, 3)
    hetero["a", "to", "b"].edge_index = torch.tensor([[0, 1, 2, 3], [0, 1, 2, 4]])
    out = T.ToUndirected()(hetero)
    assert isinstance(out, pyg_data.HeteroData) and ("b", "rev_to", "a") in out.edge_types
    splits = T.RandomLinkSplit(num_val=0.1, num_test=0.1)(_data())
    assert len(splits) == 3 and all(isinstance(part, pyg_data.Data) for part in splits)


def test_empty_pyg_data_and_compose_repr_as_pyg():
    """A transform of an empty PyG ``Data`` adds no ``num_nodes`` (PyG's length stays 0), a
    masks-only one neither; ``Compose``'s repr is PyG's (session 30, from PyG's tests)."""
    import torch_geometric.transforms as PT
    from torch_geometric.data import Data

    import gnnx.transforms as T

    assert len(T.AddSelfLoops()(Data())) == 0 and len(T.RemoveSelfLoops()(Data())) == 0
    out = T.MaskToIndex()(Data(train_mask=torch.tensor([True, False, True]), test_mask=torch.tensor([False, True, False])))
    assert "num_nodes" not in out.keys() and {"train_index", "test_index"} <= set(out.keys())
    assert repr(T.Compose([T.Center(), T.AddSelfLoops()])) == repr(PT.Compose([PT.Center(), PT.AddSelfLoops()]))
