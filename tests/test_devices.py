"""Every case of tests/cases.py on every device: parametrised by device (``cpu`` always,
``cuda`` where a GPU is present, marked ``cuda``; select with ``-m cuda`` on the GPU machine).

* eager on the device (Triton / cuSPARSE on CUDA, MKL on CPU, a bare ``edge_index`` and a
  prepared ``Graph``) equals the CPU reference, forward and input gradient;
* on CUDA: compiled (fullgraph, dynamic, training mode) equals eager with no recompile on a
  third size; one export + AOTInductor CUDA package of all cases equals eager; a
  ``CapturedStep`` and ``gnnx.compile``'s CUDA-graph replay equal eager; the Triton kernels
  equal the ATen references on NaN-poisoned memory, forward and backward.

On the GPU machine, ``GNNX_DEVICE_SUMMARY=path`` writes each case's outcomes as JSON (the
CUDA column of docs/layer_status.md is read from the committed copy).
"""
import pytest
import torch

import gnnx
from cases import ALL, Zoo, attention_inputs, call, random_graph
from gnnx import ops
from gnnx.ops import dispatch

CUDA = pytest.param("cuda", marks=[pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(),
                                                                        reason="needs CUDA")])
DEVICES = ["cpu", CUDA]
ONLY_CUDA = [CUDA]


def rel_err(a, b) -> float:
    a, b = a.detach().double().cpu(), b.detach().double().cpu()
    return float((a - b).norm() / b.norm().clamp(min=1e-30))


def poison(device) -> None:
    """Fill the caching allocator with NaN, so an output a kernel forgets to write shows."""
    if device == "cuda":
        buffer = torch.full((64 * 1024 * 1024,), float("nan"), device=device)
        del buffer


def probe(out):
    """A fixed output gradient, the same on every device (drawn on the CPU)."""
    gen = torch.Generator().manual_seed(7)
    return torch.randn(out.shape, generator=gen, dtype=out.dtype).to(out.device)


def _grad_of_x(module, case, inputs):
    x = inputs[0].clone().requires_grad_()
    out = call(module, case, x, *inputs[1:])
    out.backward(probe(out))
    return out, x.grad


@pytest.mark.device_case("eager == CPU reference")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_eager_on_device_equals_cpu(case, device):
    reference = case.gnnx().train(False)
    module = case.gnnx().to(device).train(False)
    module.load_state_dict(reference.state_dict())
    inputs = random_graph(300, 3000, seed=1)
    ref_out, ref_grad = _grad_of_x(reference, case, inputs)
    on_device = [t.to(device) for t in inputs]
    poison(device)
    out, grad = _grad_of_x(module, case, on_device)
    poison(device)
    graph_out, _ = _grad_of_x(module, case, [on_device[0], gnnx.Graph(on_device[1], 300)] + on_device[2:])
    assert rel_err(out, ref_out) < 1e-4
    assert rel_err(graph_out, ref_out) < 1e-4
    assert rel_err(grad, ref_grad) < 1e-4
    assert not torch.isnan(out).any()


@pytest.mark.device_case("compiled == eager")
@pytest.mark.parametrize("device", ONLY_CUDA)  # CPU: tests/nn/test_compile.py
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_compiled_on_device_equals_eager(case, device):
    torch._dynamo.reset()
    module = case.gnnx().to(device).train()
    compiled = torch.compile(module, fullgraph=True, dynamic=True)
    for i, size in enumerate([(20, 64), (33, 101), (47, 150)]):
        inputs = [t.to(device) for t in random_graph(*size, seed=i)]
        eager_out, eager_grad = _grad_of_x(module, case, inputs)
        if i == 2:
            with torch._dynamo.config.patch(error_on_recompile=True):
                out, grad = _grad_of_x(compiled, case, inputs)
        else:
            out, grad = _grad_of_x(compiled, case, inputs)
        assert rel_err(out, eager_out) < 1e-4 and rel_err(grad, eager_grad) < 1e-4


@pytest.mark.parametrize("device", ONLY_CUDA)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_float64_on_device_keeps_fp64_accuracy(case, device):
    """The Triton kernels accumulate in fp32: float64 takes the reference ops on CUDA (eager,
    with a prepared Graph, and compiled), so results keep fp64 accuracy (fp32 sums: ~1e-7)."""
    reference = case.gnnx().double().train(False)
    module = case.gnnx().double().to(device).train(False)
    module.load_state_dict(reference.state_dict())
    inputs = [t.double() if t.is_floating_point() else t for t in random_graph(300, 3000, seed=1)]
    ref_out, ref_grad = _grad_of_x(reference, case, inputs)
    on_device = [t.to(device) for t in inputs]
    out, grad = _grad_of_x(module, case, on_device)
    graph_out, _ = _grad_of_x(module, case, [on_device[0], gnnx.Graph(on_device[1], 300)] + on_device[2:])
    compiled_out, _ = _grad_of_x(torch.compile(module, fullgraph=True, dynamic=True), case, on_device)
    assert out.dtype == torch.float64
    for value, expected in ((out, ref_out), (graph_out, ref_out), (grad, ref_grad), (compiled_out, ref_out)):
        assert rel_err(value, expected) < 1e-10


def _penalty_grads(module, case, inputs):
    """Gradients of a gradient penalty ``|d <out, probe> / d (x, edge weights)|^2`` with respect
    to the inputs and parameters: second derivatives (``create_graph=True``), as WGAN-GP or
    forces trained against take them."""
    leaves = [t.clone().requires_grad_() if t.is_floating_point() else t for t in inputs]
    out = call(module, case, *leaves)
    inputs_in_graph = [t for t in leaves if t.requires_grad]
    weights = probe(out.detach().float()).to(out.dtype)  # the same draw for float32 and float64
    first = torch.autograd.grad((out * weights).sum(), inputs_in_graph, create_graph=True, allow_unused=True)
    penalty = sum((g ** 2).sum() for g in first if g is not None)
    wrt = inputs_in_graph + [p for p in module.parameters() if p.requires_grad]
    if not penalty.requires_grad:  # a layer whose gradient is constant in everything
        return [torch.zeros_like(t) for t in wrt]
    return [g if g is not None else torch.zeros_like(t)
            for g, t in zip(torch.autograd.grad(penalty, wrt, allow_unused=True), wrt)]


@pytest.mark.device_case("second derivatives == CPU float64")
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_second_derivatives_on_device_equal_cpu_float64(case, device):
    """A backward under ``create_graph`` through the device's fast kernels (Triton, cuSPARSE,
    MKL, the CPU's chunked loops: first-order themselves) equals float64 on the CPU."""
    reference = case.gnnx().double().train(False)
    module = case.gnnx().to(device).train(False)
    module.load_state_dict(reference.state_dict())
    inputs = random_graph(60, 400, seed=2)
    try:
        expected = _penalty_grads(reference, case, [t.double() if t.is_floating_point() else t for t in inputs])
        got = _penalty_grads(module, case, [t.to(device) for t in inputs])
    except RuntimeError as error:
        if "_scaled_dot_product" not in str(error):
            raise
        pytest.skip("torch's fused attention kernels (nn.MultiheadAttention) have no double backward; "
                    "PyG's layer shares it")
    # relative to the largest gradient: a parameter whose second derivative is zero gets fp32 round-off
    scale = max([float(w.nan_to_num().norm()) for w in expected] + [1e-30])
    for i, (value, wanted) in enumerate(zip(got, expected)):
        value, wanted = value.detach().double().cpu(), wanted.detach()
        # undefined second derivatives (PPF's angles at self loops) must be NaN in both
        assert torch.equal(value.isnan(), wanted.isnan()), i
        error = (value - wanted).nan_to_num().norm() / max(float(wanted.nan_to_num().norm()), 1e-3 * scale)
        assert error < 1e-3, (i, float(error))  # float32 against float64, through up to 3 layers


@pytest.mark.parametrize("device", ONLY_CUDA)
@pytest.mark.parametrize("layer", ["GCNConv", "SAGEConv", "GATConv", "EdgeConv"])
def test_gradcheck_on_device(layer, device):
    torch.manual_seed(0)
    module = {"GCNConv": lambda: gnnx.nn.GCNConv(4, 3), "SAGEConv": lambda: gnnx.nn.SAGEConv(4, 3, aggr="max"),
              "GATConv": lambda: gnnx.nn.GATConv(4, 3, heads=2),
              "EdgeConv": lambda: gnnx.nn.EdgeConv(gnnx.nn.MLP([8, 16, 3], norm=None))}[layer]()
    module = module.double().to(device)
    graph = gnnx.Graph(torch.randint(12, (2, 40)), 12).to(device)
    x = torch.randn(12, 4, dtype=torch.float64, device=device, requires_grad=True)
    # float64 runs the reference ops, whose CUDA scatters add in any order (atomics)
    assert torch.autograd.gradcheck(lambda value: module(value, graph), (x,), nondet_tol=1e-12)


@pytest.mark.parametrize("device", ONLY_CUDA)  # CPU: tests/export/test_fourway_export.py
def test_aoti_package_of_all_cases_on_device(device, tmp_path):
    zoo = Zoo(ALL).to(device).eval()
    program = gnnx.export.export(zoo, tuple(t.to(device) for t in random_graph(10, 30)))
    gnnx.export.save(program, str(tmp_path / "zoo_program.pt2"))
    runners = {"exported": gnnx.export.load(str(tmp_path / "zoo_program.pt2")),
               "package": gnnx.export.load_package(gnnx.export.compile_package(program, str(tmp_path / "zoo.pt2"),
                                                                               device=device))}
    for size in [(2, 1), (64, 300), (2000, 9000)]:
        inputs = tuple(t.to(device) for t in random_graph(*size, seed=size[0]))
        with torch.no_grad():
            expected = zoo(*inputs)
            for kind, runner in runners.items():
                for name, got, want in zip(zoo.names, runner(*inputs), expected):
                    assert rel_err(got, want) < 1e-4, (kind, name)


@pytest.mark.parametrize("device", ONLY_CUDA)
def test_captured_step_equals_eager(device):
    from gnnx.cuda_graph import CapturedStep

    x, edge_index, _, _ = [t.to(device) for t in random_graph(200, 1500, seed=3)]
    graph = gnnx.Graph(edge_index, 200)
    y = torch.randint(0, 4, (200,), device=device)

    def make():
        torch.manual_seed(0)
        model = gnnx.nn.GCN(x.size(1), 16, 2, 4).to(device)
        return model, torch.optim.Adam(model.parameters(), lr=0.01, capturable=True)

    eager_model, eager_opt = make()
    model, opt = make()
    static_x = x.clone()

    def step():
        opt.zero_grad(set_to_none=False)
        loss = torch.nn.functional.cross_entropy(model(static_x, graph), y)
        loss.backward()
        opt.step()
        return loss

    captured = CapturedStep(step)  # its 3 warm-up calls are training steps too
    losses = [captured().item() for _ in range(5)]
    eager_losses = []
    for _ in range(8):
        eager_opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(eager_model(x, graph), y)
        loss.backward()
        eager_opt.step()
        eager_losses.append(loss.item())
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(eager_losses[3:]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("device", ONLY_CUDA)
@pytest.mark.parametrize("reduce", ["sum", "mean", "max", "min"])
@pytest.mark.parametrize("weights", ["none", "scalar", "heads"])
def test_spmm_kernel_on_poisoned_memory(device, reduce, weights):
    for n, e in ((37, 300), (5000, 90000)):
        gen = torch.Generator(device=device).manual_seed(n + e)
        x = torch.randn(n, 4, 16, device=device, generator=gen)
        ei = torch.randint(n, (2, e), device=device, generator=gen)
        ei[:, :5] = 0  # duplicates
        w = {"none": None, "scalar": torch.rand(e, device=device, generator=gen) + 0.1,
             "heads": torch.rand(e, 4, device=device, generator=gen) + 0.1}[weights]
        leaves = [[t.clone().requires_grad_() for t in (x, w) if t is not None] for _ in range(2)]
        poison(device)
        out = ops.spmm(leaves[0][0], ei, n, leaves[0][1] if w is not None else None, reduce)
        ref = ops.spmm_reference(leaves[1][0], ei, n, leaves[1][1] if w is not None else None, reduce)
        grad = torch.randn_like(ref)
        poison(device)
        out.backward(grad)
        ref.backward(grad)
        assert not torch.isnan(out).any() and not torch.isnan(leaves[0][0].grad).any()
        for got, want in zip([out] + [t.grad for t in leaves[0]], [ref] + [t.grad for t in leaves[1]]):
            assert rel_err(got, want) < 1e-4


@pytest.mark.parametrize("device", ONLY_CUDA)
@pytest.mark.parametrize("v2", [False, True], ids=["gat", "gatv2"])
@pytest.mark.parametrize("heads,channels", [(1, 64), (4, 16), (2, 5), (1, 200)])
def test_attention_kernel_on_poisoned_memory(device, v2, heads, channels):
    from gnnx.ops.attention import attention_scores

    for n, e in ((37, 300), (5000, 90000)):
        x, ei, bias, terms = attention_inputs(v2, n, e, heads, channels, n + heads + channels, torch.float32,
                                              device, masked=7, self_loops=True)
        leaves = [[t.clone().requires_grad_() for t in [x, bias] + list(terms.values())] for _ in range(2)]

        def reference(x_, t, b):
            score = attention_scores(x_, ei[0], ei[1], t.get("score_src"), t.get("score_dst"), t.get("x_dst"),
                                     t.get("att"), b, 0.2)
            return ops.spmm_reference(x_, ei, n, ops.segment_softmax(score, ei[1], n), "sum")

        poison(device)
        got = ops.attention(leaves[0][0], ei, n, edge_bias=leaves[0][1], **dict(zip(terms, leaves[0][2:])))
        ref = reference(leaves[1][0], dict(zip(terms, leaves[1][2:])), leaves[1][1])
        grad = torch.randn_like(ref)
        poison(device)
        got.backward(grad)
        ref.backward(grad)
        assert not torch.isnan(got).any()
        assert rel_err(got, ref) < 1e-4
        for a, b in zip(leaves[0], leaves[1]):
            assert rel_err(a.grad.nan_to_num(), b.grad.nan_to_num()) < 1e-4


@pytest.mark.parametrize("device", ONLY_CUDA)
@pytest.mark.parametrize("v2", [False, True], ids=["gat", "gatv2"])
@pytest.mark.parametrize("heads", [1, 2])
def test_compiled_fused_attention_equals_the_eager_node(device, v2, heads):
    """Compiled, the fused attention is the registered op with its registered backward (GAT:
    the rows and columns backward kernels as an op of their own); eager, one autograd node
    launching the same kernels. Values and gradients agree, over sizes without recompiling."""
    import gnnx.ops.triton_attention as triton_attention

    def call(x, ei, bias, *terms):
        return ops.attention(x, ei, x.size(0), edge_bias=bias, **dict(zip(names, terms)))

    torch._dynamo.reset()
    compiled = torch.compile(call, fullgraph=True, dynamic=True)
    for i, (n, e) in enumerate(((40, 300), (57, 420), (90, 900))):
        x, ei, bias, terms = attention_inputs(v2, n, e, heads, 64, i, torch.float32, device, masked=7, self_loops=True)
        names = list(terms)
        assert dispatch.attention_kernel(x) == "triton"
        runs = []
        for fn in (call, compiled):
            leaves = [t.clone().requires_grad_() for t in [x, bias, *terms.values()]]
            with torch._dynamo.config.patch(error_on_recompile=i == 2):
                out = fn(leaves[0], ei, *leaves[1:])
            out.backward(torch.linspace(-1, 1, out.numel(), device=device).view_as(out))
            runs.append([out.detach()] + [t.grad for t in leaves])
        assert triton_attention._runs_eagerly(x)
        with torch.no_grad():  # nothing to differentiate: the kernel without an autograd node
            runs.append([call(x, ei, bias, *terms.values())])
        for got, want in zip(*runs[:2]):
            assert rel_err(got.nan_to_num(), want.nan_to_num()) < 1e-5
        assert rel_err(runs[2][0].nan_to_num(), runs[0][0].nan_to_num()) < 1e-6


@pytest.fixture
def deterministic():
    previous, warn_only = torch.are_deterministic_algorithms_enabled(), torch.is_deterministic_algorithms_warn_only_enabled()
    torch.use_deterministic_algorithms(True, warn_only=True)
    yield
    torch.use_deterministic_algorithms(previous, warn_only=warn_only)


@pytest.mark.parametrize("device", DEVICES)
def test_kernels_are_bitwise_repeatable(device, deterministic):
    """Determinism: the same call twice gives identical bits, forward and backward, with
    ``torch.use_deterministic_algorithms(True)`` (on CUDA gnnx's Triton kernels then serve
    every SpMM; cuSPARSE's default algorithm does not promise a fixed summation order)."""
    x, ei, w, _ = [t.to(device) for t in random_graph(500, 8000, seed=9)]
    graph = gnnx.Graph(ei, 500)
    results = []
    for _ in range(2):
        xs = x.clone().requires_grad_()
        outs = [ops.spmm(xs, ei, 500, w, reduce, csr=graph.csr) for reduce in ("sum", "mean", "max")]
        outs.append(ops.attention(xs.view(500, 1, -1), ei, 500, score_src=xs[:, :1], score_dst=xs[:, 1:2]).flatten(1))
        torch.cat(outs, 1).backward(probe(torch.cat(outs, 1)))
        results.append([o.detach() for o in outs] + [xs.grad])
    for a, b in zip(*results):
        assert torch.equal(a, b)


def _hetero_models():
    from cases import HETERO_METADATA, IN

    torch.manual_seed(3)
    return {
        "HGTConv": gnnx.nn.HGTConv(IN, 16, HETERO_METADATA, heads=2),
        "HANConv": gnnx.nn.HANConv(IN, 16, HETERO_METADATA, heads=2),
        "to_hetero(GraphSAGE)": gnnx.nn.to_hetero(gnnx.nn.GraphSAGE(IN, 16, 2, 4), HETERO_METADATA, aggr="mean"),
        "to_hetero(GAT)": gnnx.nn.to_hetero(gnnx.nn.GAT(IN, 16, 2, 4, heads=2, add_self_loops=False),
                                            HETERO_METADATA),
        "to_hetero_with_bases(GraphSAGE)": gnnx.nn.to_hetero_with_bases(gnnx.nn.GraphSAGE(IN, 16, 2, 4),
                                                                        HETERO_METADATA, num_bases=2),
    }


def _hetero_step(model, x_dict, edge_index_dict):
    x_dict = {k: v.clone().requires_grad_() for k, v in x_dict.items()}
    out = model(x_dict, edge_index_dict)
    total = sum((o * probe(o)).sum() for o in out.values() if o is not None)
    grads = torch.autograd.grad(total, list(x_dict.values()))
    return out, grads


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name", ["HGTConv", "HANConv", "to_hetero(GraphSAGE)", "to_hetero(GAT)",
                                  "to_hetero_with_bases(GraphSAGE)"])
def test_heterogeneous_models_on_device(name, device):
    """Dict inputs: eager on the device equals the CPU, forward and input gradients; on CUDA
    compiled equals eager with no recompile on a third set of per-type sizes."""
    from cases import random_hetero_graph

    reference = _hetero_models()[name].eval()
    model = _hetero_models()[name].to(device).eval()
    model.load_state_dict(reference.state_dict())
    graph = random_hetero_graph(300, 120, 2000, seed=1)
    ref_out, ref_grads = _hetero_step(reference, *graph)
    on_device = [{k: v.to(device) for k, v in d.items()} for d in graph]
    poison(device)
    out, grads = _hetero_step(model, *on_device)
    for key in ref_out:
        assert rel_err(out[key], ref_out[key]) < 1e-4
    for got, want in zip(grads, ref_grads):
        assert rel_err(got, want) < 1e-4
    if device != "cuda":
        return
    torch._dynamo.reset()
    compiled = torch.compile(model, fullgraph=True, dynamic=True)
    for i, sizes in enumerate([(20, 11, 50), (33, 7, 90), (57, 25, 31)]):
        inputs = [{k: v.to(device) for k, v in d.items()} for d in random_hetero_graph(*sizes, seed=i)]
        expected, expected_grads = _hetero_step(model, *inputs)
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            got, got_grads = _hetero_step(compiled, *inputs)
        for key in expected:
            assert rel_err(got[key], expected[key]) < 1e-4
        for a, b in zip(got_grads, expected_grads):
            assert rel_err(a, b) < 1e-4


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("rows", [0, 5])
def test_spmm_and_sddmm_take_empty_sources(device, rows):
    """A node type trimmed to no nodes (trim_to_layer) meets the kernels with ``x [0, ...]``."""
    x = torch.randn(0, 3, 4, device=device, requires_grad=True)
    edge_index = torch.zeros(2, 0, dtype=torch.long, device=device)
    from gnnx.graph import build_csr

    out = ops.spmm(x, edge_index, rows, None, "sum", csr=build_csr(edge_index, rows, 0))
    assert out.shape == (rows, 3, 4) and bool((out == 0).all())
    out.sum().backward()
    assert x.grad.shape == x.shape
