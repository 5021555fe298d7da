"""GPSE, GPSENodeEncoder, gpse_process and AddGPSE equal PyG's: module tree (repr), keys, the
pre-training head's (pred, true) and the pretrained encoder's encodings given PyG's weights,
the node encoder's draws and outputs, and the transform's encodings for the same numpy seed."""
from types import SimpleNamespace

import numpy as np
import pytest
import torch

import gnnx.nn as gnn
import gnnx.transforms as T
from gnnx import Graph
from gnnx.nn.gpse import gpse_process

pyg_gpse = pytest.importorskip("torch_geometric.nn.models.gpse")
from torch_geometric.data import Batch, Data  # noqa: E402

KWARGS = dict(dim_in=5, dim_out=4, dim_inner=8, layers_mp=3, layers_post_mp=2, num_node_targets=4,
              num_graph_targets=3, multi_head_dim_inner=6)


def _graphs(sizes, seed=0):
    gen = torch.Generator().manual_seed(seed)
    graphs = []
    for n in sizes:
        edge_index = torch.randint(0, n, (2, 3 * n), generator=gen)
        graphs.append(Data(x=torch.randn(n, 5, generator=gen), edge_index=edge_index,
                           y=torch.randn(n, 4, generator=gen), y_graph=torch.randn(1, 3, generator=gen)))
    return Batch.from_data_list(graphs)


def _pair(**kwargs):
    theirs = pyg_gpse.GPSE(**KWARGS, **kwargs).eval()
    ours = gnn.GPSE(**KWARGS, **kwargs).eval()
    assert repr(ours) == repr(theirs).replace("torch_geometric", "gnnx")
    assert list(ours.state_dict()) == list(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


@pytest.mark.parametrize("kwargs", [{}, {"stage_type": "skipconcat", "act": "leaky_relu", "graph_pooling": "mean",
                                         "virtual_node": False}])
def test_pretraining_head_equals_pygs(kwargs):
    torch.manual_seed(0)
    ours, theirs = _pair(**kwargs)
    batch = _graphs([5, 7, 4])
    for a, b in zip(ours(batch), theirs(batch)):
        torch.testing.assert_close(a, b)


def test_pretrained_encoder_and_processing_equal_pygs():
    torch.manual_seed(0)
    theirs = pyg_gpse.GPSE(**KWARGS)
    checkpoint = {f"model.{key}": value for key, value in theirs.state_dict().items()}  # PyG's checkpoint layout
    ours = gnn.GPSE.load_pretrained_state(checkpoint, **KWARGS)
    theirs.post_mp = pyg_gpse.IdentityHead()
    theirs.eval()
    assert not ours.training and isinstance(ours.post_mp, gnn.gpse.IdentityHead)
    data = _graphs([6])
    torch.testing.assert_close(ours(data)[0], theirs(data)[0])

    graph = Graph(edge_index=data.edge_index, num_nodes=data.num_nodes)
    np.random.seed(0)
    expected = pyg_gpse.gpse_process(theirs, data.clone(), "NormalSE", use_vn=True)
    np.random.seed(0)
    torch.testing.assert_close(gpse_process(ours, graph, "NormalSE", use_vn=True), expected)

    from torch_geometric.transforms import AddGPSE

    np.random.seed(1)
    expected = AddGPSE(theirs)(Data(edge_index=data.edge_index, num_nodes=data.num_nodes)).pestat_GPSE
    np.random.seed(1)
    got = T.AddGPSE(ours)(graph).pestat_GPSE
    assert got.shape == (graph.num_nodes, KWARGS["dim_inner"])
    torch.testing.assert_close(got, expected)


def test_from_pretrained_is_refused_and_bad_inputs_are_named():
    with pytest.raises(NotImplementedError, match="downloads nothing"):
        gnn.GPSE.from_pretrained("zinc")
    with pytest.raises(ValueError, match="one_layer_before"):
        gnn.GPSE.load_pretrained_state({f"m.{k}": v for k, v in gnn.GPSE(**KWARGS).state_dict().items()},
                                       repr_type="one_layer_before", **KWARGS)
    with pytest.raises(ValueError, match="unknown activation"):
        gnn.GPSE(**KWARGS, act="nope")
    with pytest.raises(ValueError, match=r"node features x of shape \[N, F\]"):
        gnn.GPSE(**KWARGS)(Graph(edge_index=torch.tensor([[0], [1]]), num_nodes=2))


@pytest.mark.parametrize("kwargs", [{}, {"expand_x": True, "dim_in": 3, "model_type": "linear", "norm_type": None},
                                    {"n_layers": 3}])
def test_node_encoder_equals_pygs(kwargs):
    torch.manual_seed(0)
    ours = gnn.GPSENodeEncoder(16, 8, 6, **kwargs)
    torch.manual_seed(0)
    theirs = pyg_gpse.GPSENodeEncoder(16, 8, 6, **kwargs)
    assert repr(ours) == repr(theirs)
    for (key, a), b in zip(ours.state_dict().items(), theirs.state_dict().values()):
        assert torch.equal(a, b), key
    x, pe = torch.randn(5, kwargs.get("dim_in", 10)), torch.randn(5, 8)
    for mode in ("train", "eval"):
        getattr(ours, mode)(), getattr(theirs, mode)()
        torch.manual_seed(1)
        expected = theirs(x, pe)
        torch.manual_seed(1)
        torch.testing.assert_close(ours(x, pe), expected)
    with pytest.raises(ValueError, match="must be smaller"):
        gnn.GPSENodeEncoder(6, 8, 6)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_encodings_on_cuda_equal_the_cpu():
    torch.manual_seed(0)
    model = gnn.GPSE.load_pretrained_state({f"model.{k}": v for k, v in gnn.GPSE(**KWARGS).state_dict().items()},
                                           **KWARGS)
    edge_index = _graphs([6]).edge_index
    results = []
    for device in ("cpu", "cuda"):
        np.random.seed(0)
        graph = Graph(edge_index=edge_index.to(device), num_nodes=6)
        results.append(T.AddGPSE(model.to(device))(graph).pestat_GPSE.cpu())
    torch.testing.assert_close(results[0], results[1], atol=1e-4, rtol=1e-3)


def test_encoder_compiles_without_recompiling():
    """The encoder (IdentityHead) over graphs of three sizes (its AOTInductor package:
    tests/export/test_models_package.py)."""
    torch.manual_seed(0)
    model = gnn.GPSE(**KWARGS).eval()
    model.post_mp = gnn.gpse.IdentityHead()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([[5, 7], [9], [4, 6, 8]]):
        data = _graphs(sizes, seed=i)
        batch = SimpleNamespace(x=data.x, edge_index=data.edge_index, batch=data.batch)  # no targets to pass on
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            torch.testing.assert_close(compiled(batch)[0], model(batch)[0], rtol=1e-4, atol=1e-5)
