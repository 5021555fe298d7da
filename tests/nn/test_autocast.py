"""Mixed precision: every case of tests/cases.py under ``torch.autocast`` (bf16 on the CPU; fp16
and bf16 on CUDA, marked ``cuda``) runs forward and backward, returns PyG's output dtype for
the same module under the same autocast, and stays close to the fp32 result.

gnnx's aggregations (SpMM over MKL, cuSPARSE or Triton, segment reductions, attention) keep
their input's dtype as PyG's scatter does: autocast lowers the learned products only.
"""
import pytest
import torch

import gnnx.nn
from cases import ALL, HETERO_METADATA, IN, MODELS, call, random_graph, random_hetero_graph
from gnnx.nn import hetero_gat

pyg = pytest.importorskip("torch_geometric")

CUDA = [pytest.mark.cuda, pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")]
SETTINGS = [pytest.param("cpu", torch.bfloat16, id="cpu-bf16"),
            pytest.param("cuda", torch.float16, id="cuda-fp16", marks=CUDA),
            pytest.param("cuda", torch.bfloat16, id="cuda-bf16", marks=CUDA)]
TOLERANCE = {torch.bfloat16: 5e-2, torch.float16: 1e-2}  # relative to the fp32 output's norm


def _first(out):
    return out if isinstance(out, torch.Tensor) else out[0]


def _inputs(device):
    return tuple(t.to(device) for t in random_graph(60, 400, seed=3))


@pytest.mark.parametrize("device,dtype", SETTINGS)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_autocast_matches_pyg_dtype_and_fp32(case, device, dtype):
    ours = case.gnnx().to(device).train(False)
    inputs = _inputs(device)
    reference = _first(call(ours, case, *inputs))
    with torch.autocast(device, dtype=dtype):
        out = _first(call(ours, case, *inputs))
    try:
        theirs = case.pyg().to(device).train(False)
        theirs.load_state_dict(ours.state_dict())
        with torch.autocast(device, dtype=dtype):
            pyg_dtype = _first(call(theirs, case, *inputs)).dtype
    except RuntimeError:  # PyG fails under autocast for some layers (MFConv): nothing to match
        pyg_dtype = None
    if pyg_dtype is not None:
        assert out.dtype == pyg_dtype
    assert torch.isfinite(out).all()
    out, reference = out.detach().double(), reference.detach().double()
    err = float((out - reference).norm() / reference.norm().clamp(min=1e-12))
    assert err < TOLERANCE[dtype], err


@pytest.mark.parametrize("device,dtype", SETTINGS)
@pytest.mark.parametrize("case", ALL, ids=lambda c: c.id)
def test_autocast_backward(case, device, dtype):
    module = case.gnnx().to(device)
    x, *rest = _inputs(device)
    x = x.clone().requires_grad_()
    with torch.autocast(device, dtype=dtype):
        out = _first(call(module, case, x, *rest))
    out.float().square().mean().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    for name, parameter in module.named_parameters():
        if parameter.grad is not None:
            assert torch.isfinite(parameter.grad).all(), name


@pytest.mark.parametrize("device,dtype", SETTINGS[:1] + SETTINGS[2:])
@pytest.mark.parametrize("case", list({c.cls: c for c in reversed(MODELS)
                                       if c.cls in ("GCN", "GraphSAGE", "GAT", "EdgeCNN")}.values()),
                         ids=lambda c: c.id)
def test_autocast_compiled_equals_eager(case, device, dtype):
    """A training step's forward under autocast inside ``torch.compile(fullgraph, dynamic)``."""
    module = case.gnnx().to(device).train(False)

    def forward(x, edge_index, edge_weight, edge_attr):
        with torch.autocast(device, dtype=dtype):
            return _first(call(module, case, x, edge_index, edge_weight, edge_attr))

    compiled = torch.compile(forward, fullgraph=True, dynamic=True)
    inputs = _inputs(device)
    expected, got = forward(*inputs), compiled(*inputs)
    assert got.dtype == expected.dtype
    torch.testing.assert_close(got.float(), expected.float(), rtol=2e-2, atol=2e-2)


HETERO_WIDTHS = {"paper": IN, "author": IN}


def _hetero_layers(ns):
    relations = HETERO_METADATA[1]
    return {
        "hgt": lambda: ns.HGTConv(HETERO_WIDTHS, 16, HETERO_METADATA, heads=2),
        "han": lambda: ns.HANConv(HETERO_WIDTHS, 16, HETERO_METADATA, heads=2),
        "hetero-gat": lambda: ns.HeteroConv({r: ns.GATConv((IN, IN), 8, heads=2, add_self_loops=False)
                                             for r in relations}, aggr="sum"),
        "hetero-sage": lambda: ns.HeteroConv({r: ns.SAGEConv((IN, IN), 8) for r in relations}, aggr="mean"),
        "to_hetero-sage": lambda: ns.to_hetero(ns.GraphSAGE(IN, 8, 2), HETERO_METADATA, aggr="sum"),
    }


@pytest.mark.parametrize("grouped", [False, True], ids=["per-relation", "grouped"])
@pytest.mark.parametrize("device,dtype", SETTINGS)
@pytest.mark.parametrize("name", list(_hetero_layers(gnnx.nn)))
def test_autocast_heterogeneous(name, device, dtype, grouped, monkeypatch):
    monkeypatch.setattr(hetero_gat, "ENABLED", grouped)  # the grouped R-GAT path on any device
    x_dict, edge_index_dict = random_hetero_graph(30, 20, 80, seed=2)
    x_dict = {k: v.to(device) for k, v in x_dict.items()}
    edge_index_dict = {k: v.to(device) for k, v in edge_index_dict.items()}
    torch.manual_seed(0)
    ours = _hetero_layers(gnnx.nn)[name]().to(device)
    torch.manual_seed(0)
    theirs = _hetero_layers(pyg.nn)[name]().to(device)
    with torch.no_grad():
        theirs(x_dict, edge_index_dict)
    theirs.load_state_dict(ours.state_dict())
    reference = ours(x_dict, edge_index_dict)
    with torch.autocast(device, dtype=dtype):
        out, pyg_out = ours(x_dict, edge_index_dict), theirs(x_dict, edge_index_dict)
    sum(v.float().square().mean() for v in out.values()).backward()
    for node_type, value in out.items():
        assert value.dtype == pyg_out[node_type].dtype, node_type
        value, expected = value.detach().double(), reference[node_type].detach().double()
        assert float((value - expected).norm() / expected.norm()) < TOLERANCE[dtype], node_type
    assert all(torch.isfinite(p.grad).all() for p in ours.parameters() if p.grad is not None)


READOUTS = {  # per-graph readouts and norms (x [N, F], sorted batch), incl. the written-out RNN steps
    "set2set": lambda ns: ns.aggr.Set2Set(IN, processing_steps=2),
    "lstm": lambda ns: ns.aggr.LSTMAggregation(IN, IN),
    "gru": lambda ns: ns.aggr.GRUAggregation(IN, IN),
    "softmax-learn": lambda ns: ns.aggr.SoftmaxAggregation(learn=True),
    "attentional": lambda ns: ns.aggr.AttentionalAggregation(torch.nn.Linear(IN, 1), torch.nn.Linear(IN, IN)),
    "graph-norm": lambda ns: ns.GraphNorm(IN),
    "layer-norm": lambda ns: ns.LayerNorm(IN),
}


def _cpu_runs_bf16_lstm() -> bool:
    """Whether this CPU's oneDNN builds a bf16 LSTM (some AMD EPYC machines cannot: "could not
    create a primitive descriptor"), which PyG's LSTM readouts need as much as gnnx's."""
    try:
        with torch.autocast("cpu", dtype=torch.bfloat16):
            torch.nn.LSTM(4, 4)(torch.randn(2, 1, 4))
        return True
    except RuntimeError:
        return False


@pytest.mark.parametrize("device,dtype", SETTINGS)
@pytest.mark.parametrize("name", list(READOUTS))
def test_autocast_readouts_and_norms(name, device, dtype):
    if name in ("set2set", "lstm") and device == "cpu" and not _cpu_runs_bf16_lstm():
        pytest.skip("this CPU's oneDNN has no bf16 LSTM (torch.nn.LSTM itself fails under autocast)")
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(30, IN, generator=gen).to(device)
    batch = torch.arange(3).repeat_interleave(10).to(device)
    torch.manual_seed(0)
    ours = READOUTS[name](gnnx.nn).to(device)
    theirs = READOUTS[name](pyg.nn).to(device)
    theirs.load_state_dict(ours.state_dict())
    extra = {} if "norm" in name else {"dim_size": 3}
    reference = ours(x, batch, **extra)
    with torch.autocast(device, dtype=dtype):
        out, pyg_out = ours(x, batch, **extra), theirs(x, batch, **extra)
    assert out.dtype == pyg_out.dtype
    out, reference = out.detach().double(), reference.detach().double()
    assert float((out - reference).norm() / reference.norm()) < TOLERANCE[dtype]
