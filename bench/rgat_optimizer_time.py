"""Adam step time of the R-GAT training step (bench/rgat.py models) against its device kernels, per library and mode:
the wall time of optimizer.step() after a synchronised backward, and the CUDA kernels it launches (torch.profiler)."""
import sys
import time

import torch

sys.path.insert(0, "bench")
import torch.nn.functional as F  # noqa: E402
import torch_geometric.nn as pyg_nn  # noqa: E402
from rgat import build_rgat, seeds_loader  # noqa: E402

import gnnx  # noqa: E402
from gnnx.datasets import hetero_benchmark_graph  # noqa: E402

dev = "cuda"
graph = hetero_benchmark_graph(scale=1.0, num_features=128).to(dev)
batches = [b for _, b in zip(range(8), seeds_loader(graph))]
torch.manual_seed(0)
pyg = build_rgat(pyg_nn, graph, 128, batches[0], dev)
gm = build_rgat(gnnx.nn, graph, 128, batches[0], dev)
gm.load_state_dict(pyg.state_dict())
def run(name, model, call):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ts = []
    for b in batches:
        size = b["paper"].batch_size
        opt.zero_grad()
        out = call(b.x_dict, b.edge_index_dict)[:size]
        F.cross_entropy(out, b["paper"].y[:size]).backward()
        torch.cuda.synchronize()
        t = time.perf_counter()
        opt.step()
        torch.cuda.synchronize()
        ts.append(time.perf_counter() - t)
    bad = [(n, tuple(p.stride()), tuple(p.grad.stride()), p.grad.is_contiguous()) for n, p in model.named_parameters()
           if p.grad is not None and p.grad.stride() != p.stride()]
    none = [n for n, p in model.named_parameters() if p.grad is None]
    print(name, "adam step ms", [round(t * 1e3, 2) for t in ts[2:]], "params", len(list(model.parameters())),
          "numel", sum(p.numel() for p in model.parameters()), "stride mismatches", len(bad), bad[:6], "no grad", none[:5], flush=True)
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA, torch.profiler.ProfilerActivity.CPU]) as prof:
        opt.step()
        torch.cuda.synchronize()
    ka = prof.key_averages()
    print(name, "kernels in one adam step:", sum(e.count for e in ka if e.device_type == torch.autograd.DeviceType.CUDA))
    print(ka.table(sort_by="cuda_time_total", row_limit=8, max_name_column_width=60))
run("pyg eager", pyg, pyg)
torch._dynamo.reset()
run("pyg compiled", pyg, torch.compile(pyg, dynamic=True))
run("gnnx eager", gm, gm)
torch._dynamo.reset()
run("gnnx.compile", gm, gnnx.compile(gm))
