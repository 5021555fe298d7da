"""ops.attention (GAT/GATv2 scores, edge softmax, aggregation) and the sort-free CSR with loops.

The CUDA kernel is checked against the ATen reference by tests/test_devices.py (marked ``cuda``).
"""
import pytest
import torch
from torch.export import Dim

from cases import attention_inputs
from gnnx import ops
from gnnx.graph import build_csr, csr_with_self_loops
from gnnx.structure import with_fresh_self_loops


def _inputs(v2, n=9, e=40, heads=2, channels=3, seed=0, dtype=torch.float64):
    return attention_inputs(v2, n, e, heads, channels, seed, dtype)


def _loop(x, ei, n, bias, terms, slope=0.2):
    """Per destination, per head: softmax over incoming edges, written out plainly."""
    out = torch.zeros(n, x.size(1), x.size(2), dtype=x.dtype)
    for i in range(n):
        edges = (ei[1] == i).nonzero().flatten()
        if edges.numel() == 0:
            continue
        j = ei[0, edges]
        if "att" in terms:
            z = torch.nn.functional.leaky_relu(x[j] + terms["x_dst"][i], slope)
            s = (z * terms["att"]).sum(-1) + bias[edges]
        else:
            s = torch.nn.functional.leaky_relu(terms["score_src"][j] + terms["score_dst"][i] + bias[edges], slope)
        alpha = torch.softmax(s, 0)  # [deg, H]
        out[i] = (alpha.unsqueeze(-1) * x[j]).sum(0)
    return out


@pytest.mark.parametrize("v2", [False, True], ids=["gat", "gatv2"])
def test_attention_equals_a_plain_loop(v2):
    x, ei, bias, terms = _inputs(v2)
    got = ops.attention(x, ei, 9, edge_bias=bias, **terms)
    torch.testing.assert_close(got, _loop(x, ei, 9, bias, terms))
    csr = build_csr(ei, 9)
    torch.testing.assert_close(ops.attention(x, ei, 9, edge_bias=bias, csr=csr, **terms), got)


@pytest.mark.parametrize("v2", [False, True], ids=["gat", "gatv2"])
def test_attention_gradcheck(v2):
    x, ei, bias, terms = _inputs(v2, n=5, e=14, heads=2, channels=2)
    bias = bias.clamp(min=-5)  # finite: gradcheck perturbs every entry
    names = list(terms)

    def fn(x, bias, *values):
        return ops.attention(x, ei, 5, edge_bias=bias, **dict(zip(names, values)))

    inputs = [x.requires_grad_(), bias.requires_grad_()] + [t.requires_grad_() for t in terms.values()]
    assert torch.autograd.gradcheck(fn, inputs)


def test_attention_compiles_once_and_exports_with_dynamic_sizes():
    x, ei, bias, terms = _inputs(False)

    def fn(x, ei, bias, score_src, score_dst):
        return ops.attention(x, ei, x.size(0), edge_bias=bias, score_src=score_src, score_dst=score_dst)

    compiled = torch.compile(fn, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate([(9, 40), (15, 70), (21, 90)]):
        x, ei, bias, terms = _inputs(False, n, e, seed=i)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got = compiled(x, ei, bias, terms["score_src"], terms["score_dst"])
        torch.testing.assert_close(got, fn(x, ei, bias, terms["score_src"], terms["score_dst"]))

    class Module(torch.nn.Module):
        def forward(self, x, ei, bias, score_src, score_dst):
            return fn(x, ei, bias, score_src, score_dst)

    nodes, edges = Dim("nodes", min=2), Dim("edges", min=1)
    x, ei, bias, terms = _inputs(False)
    program = torch.export.export(Module(), (x, ei, bias, terms["score_src"], terms["score_dst"]),
                                  dynamic_shapes=({0: nodes}, {1: edges}, {0: edges}, {0: nodes}, {0: nodes}))
    x, ei, bias, terms = _inputs(False, 30, 100, seed=5)
    torch.testing.assert_close(program.module()(x, ei, bias, terms["score_src"], terms["score_dst"]),
                               fn(x, ei, bias, terms["score_src"], terms["score_dst"]))


def test_attention_rejects_ambiguous_scores_and_flat_features():
    x, ei, bias, terms = _inputs(False)
    with pytest.raises(ValueError, match="either score_src/score_dst .* or x_dst/att"):
        ops.attention(x, ei, 9)
    with pytest.raises(ValueError, match=r"x must be \[N, heads, channels\]"):
        ops.attention(x.flatten(1), ei, 9, **terms)


@pytest.mark.parametrize("n,e", [(1, 0), (6, 0), (7, 25), (40, 300)])
def test_csr_with_self_loops_equals_a_fresh_sort(n, e):
    ei = torch.randint(n, (2, e))
    looped, _, _ = with_fresh_self_loops(ei, None, n, 0.0)
    expected = build_csr(looped, n)
    got = csr_with_self_loops(build_csr(ei, n), ei, n)
    for name, a, b in zip(expected._fields, expected, got):
        assert torch.equal(a, b), name


def test_gat_masks_a_graphs_old_self_loops_once_per_graph():
    """The -inf bias on a graph's own self loops (replaced by fresh ones) is structure: made
    once per graph and heads, the same tensor in every later call and layer, with PyG's
    values (the layers' PyG comparisons check those on graphs with loops)."""
    import gnnx
    from gnnx.nn import GATConv

    torch.manual_seed(0)
    edge_index = torch.cat([torch.randint(20, (2, 60)), torch.arange(5).repeat(2, 1)], 1)  # 5 old loops
    graph, x = gnnx.Graph(edge_index, 20), torch.randn(20, 8)
    conv = GATConv(8, 4, heads=2)
    first = conv(x, graph)
    bias = graph._memo[("stale_loop_bias", 2, torch.float32)]
    assert torch.isinf(bias).sum() == (edge_index[0] == edge_index[1]).sum() * 2 >= 10
    torch.testing.assert_close(conv(x, graph), first)
    assert graph._memo[("stale_loop_bias", 2, torch.float32)] is bias
    fresh = GATConv(8, 4, heads=2)
    fresh.load_state_dict(conv.state_dict())
    torch.testing.assert_close(fresh(x, edge_index), first)  # bare edge_index, the structure cache's graph
