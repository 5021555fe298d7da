"""``torch.inference_mode``: every case runs under it (its second call takes the structure
cache's path), and what it leaves in gnnx's caches (the structure cache, ``Graph.memo``, CSR
values) never breaks a later training call with the same structure. Inference tensors
(made under the mode) have no version counter: structure derived from them is not cached, so
an in-place edit inside the mode is seen."""
import pytest
import torch

import gnnx
from cases import ALL, call, random_graph
from gnnx.ops import dispatch

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])
DEVICES = ["cpu", CUDA]


def _first(out):
    return out if isinstance(out, torch.Tensor) else out[0]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_inference_mode_then_training(case, device):
    dispatch.structure_cache.clear()
    module = case.gnnx().to(device)
    x, edge_index, edge_weight, edge_attr = (t.to(device) for t in random_graph(50, 300, seed=5))
    module.train(False)
    with torch.no_grad():
        expected = _first(call(module, case, x, edge_index, edge_weight, edge_attr))
    with torch.inference_mode():
        for _ in range(2):  # the second call finds the structure built by the first
            got = _first(call(module, case, x, edge_index, edge_weight, edge_attr))
            torch.testing.assert_close(got, expected)
    x = x.clone().requires_grad_()
    out = _first(call(module, case, x, edge_index, edge_weight, edge_attr))  # autograd saves the cached structure
    out.square().mean().backward()
    assert x.grad is not None


@pytest.mark.parametrize("device", DEVICES)
def test_inference_tensors_and_in_place_edits(device):
    torch.manual_seed(0)
    model = gnnx.nn.GCN(8, 16, 2, 4).to(device).train(False)
    x = torch.randn(40, 8, device=device)
    with torch.inference_mode():
        edge_index = torch.randint(40, (2, 200), device=device)
        weight = torch.rand(200, device=device)
        first = model(x, edge_index, weight)
        torch.testing.assert_close(model(x, edge_index, weight), first)  # CUDA sums may differ in order
        edge_index[0, :100] = edge_index[0, :100].flip(0)  # in place: no version counter to see it by
        weight.mul_(2)
        edited = model(x, edge_index, weight)
    fresh = model(x, edge_index.clone(), weight.clone())
    torch.testing.assert_close(edited, fresh)
    assert not torch.allclose(edited, first)


def test_compiled_model_in_inference_mode_then_training():
    torch.manual_seed(0)
    model = gnnx.nn.GraphSAGE(8, 16, 2, 4)
    compiled = gnnx.compile(model)
    x, edge_index = torch.randn(50, 8), torch.randint(50, (2, 300))
    with torch.inference_mode():
        inferred = compiled(x, edge_index)
    trained = compiled(x, edge_index)
    trained.sum().backward()
    torch.testing.assert_close(inferred, trained.detach())


def test_hetero_graph_structure_in_inference_mode():
    graph = gnnx.HeteroGraph()
    graph["paper"].num_nodes, graph["author"].num_nodes = 6, 4
    relation = ("author", "writes", "paper")
    graph[relation].edge_index = torch.tensor([[0, 1, 3, 3], [5, 0, 2, 2]])
    with torch.inference_mode():
        csr = graph.csr(relation)
    assert not csr.rowptr.is_inference()  # kept for later calls: an ordinary tensor
    assert graph.csr(relation) is csr
    with torch.inference_mode():
        graph[relation].edge_index = torch.tensor([[2, 2], [1, 4]])
        first = graph.csr(relation)
        graph[relation].edge_index[1, 0] = 3  # an inference tensor edited in place: seen
        assert graph.csr(relation).col.tolist() == [2, 2] and graph.csr(relation).rowptr[4].item() == 1
        assert first is not graph.csr(relation)
