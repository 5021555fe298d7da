"""Compiled (fullgraph, dynamic) equals eager, in training mode with gradients, and a
third graph size does not recompile."""
import pytest
import torch

from cases import ALL, call, random_graph

SIZES = [(20, 64), (33, 101)]
THIRD = (47, 150)


def _run(module, case, inputs):
    x, edge_index, edge_weight, edge_attr = inputs
    x = x.clone().requires_grad_()
    out = call(module, case, x, edge_index, edge_weight, edge_attr)
    # A fixed random output gradient (out.square().mean() has no gradient when rows have
    # constant norm, as with SAGEConv(normalize=True)).
    out.backward(torch.randn(out.shape, generator=torch.Generator().manual_seed(7)))
    grads = [p.grad.clone() for p in module.parameters() if p.grad is not None]
    module.zero_grad(set_to_none=True)
    return out.detach(), x.grad, grads


@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
@pytest.mark.status("compiled")
def test_compiled_equals_eager_without_recompiling(case):
    module = case.gnnx().train()
    compiled = torch.compile(module, fullgraph=True, dynamic=True)
    for i, size in enumerate(SIZES + [THIRD]):
        inputs = random_graph(*size, seed=i)
        expected = _run(module, case, inputs)
        if size == THIRD:
            with torch._dynamo.config.patch(error_on_recompile=True):
                actual = _run(compiled, case, inputs)
        else:
            actual = _run(compiled, case, inputs)
        torch.testing.assert_close(actual, expected, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("make", [lambda: __import__("gnnx").nn.GCNConv(8, 16),
                                  lambda: __import__("gnnx").nn.SAGEConv(8, 16),
                                  lambda: __import__("gnnx").nn.GraphSAGE(8, 16, 2, jk="cat")],
                         ids=["gcn", "sage-mean", "graphsage-jk-cat"])
def test_first_compile_on_one_node_with_self_loops(make):
    """A 1-node graph (sizes of 1 are specialised by the compiler) with several self loops
    compiles and equals eager (Inductor's CPU index_add into one row used to assert)."""
    module = make()
    compiled = torch.compile(module, fullgraph=True, dynamic=True)
    x, edge_index = torch.randn(1, 8), torch.zeros(2, 3, dtype=torch.long)
    torch.testing.assert_close(compiled(x, edge_index), module(x, edge_index), rtol=1e-5, atol=1e-6)
