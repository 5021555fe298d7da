"""Launch shapes of gnnx.ops.aggregate_project's Triton kernels on one R-GAT layer of a real
sampled batch (bench/rgat.py's graph and batch), and that layer's forward + backward with the
projection first (the grouped path) against projection after the sum.

Per configuration: the forward and backward kernels' GPU time (summed over node types) and
the layer's step. Writes ``tune_aggregate_project.json`` to ``--out``.

    python bench/tune_aggregate_project.py --out bench/results/h100
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time

import torch

import gnnx
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph
from gnnx.nn import hetero_gat

kernels = sys.modules["gnnx.ops.triton_aggregate_project"]


def layer_step(conv, batch):
    x = {k: v.detach().requires_grad_(True) for k, v in batch.x_dict.items()}

    def step():
        out = conv(x, batch.edge_index_dict)
        sum(v.sum() for v in out.values()).backward()
    return step


def kernel_ms_per_step(step, names, repeats=5) -> dict:
    """GPU milliseconds per step of each named kernel (all its launches), torch.profiler."""
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            step()
        torch.cuda.synchronize()
    return {e.key: round(e.self_device_time_total / repeats / 1e3, 3) for e in prof.key_averages() if e.key in names}


def timed(step, repeats=10) -> float:
    step()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(repeats):
        step()
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / repeats * 1e3


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--scale", type=float, default=1.0)
    args = parser.parse_args()
    graph = hetero_benchmark_graph(scale=args.scale, num_features=128).to("cuda")
    loader = NeighborLoader(graph, num_neighbors=[15, 10, 5], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=1024, shuffle=True)
    batch = next(iter(loader))
    torch.manual_seed(0)
    conv = gnnx.nn.HeteroConv({et: gnnx.nn.GATConv((-1, -1), 32, heads=4, add_self_loops=False)
                               for et in graph.metadata()[1]}).cuda()
    with torch.no_grad():
        conv(batch.x_dict, batch.edge_index_dict)
    step = layer_step(conv, batch)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "layer_ms": {}, "sweep": {}}
    hetero_gat.LATE_PROJECTION = False
    report["layer_ms"]["project first"] = timed(step)
    hetero_gat.LATE_PROJECTION = None
    report["layer_ms"]["aggregate, then project"] = timed(step)
    print(report["layer_ms"], flush=True)
    names = ["_forward_kernel", "_backward_kernel", "_spmm_kernel"]
    for warps, rows, edges, per_sm, precision in itertools.product([4, 8], [16, 32], [16, 32], [4], ["tf32x3", "ieee"]):
        kernels.CONFIG.update(warps=warps, rows=rows, edges=edges, fwd_programs_per_sm=per_sm, precision=precision)
        label = f"w{warps} rows{rows} edges{edges} fwd{per_sm}/SM {precision}"
        try:
            times = kernel_ms_per_step(step, names)
        except Exception as error:  # a shape Triton cannot build
            print(label, "failed:", str(error).splitlines()[0][:150], flush=True)
            continue
        report["sweep"][label] = times
        print(f"{label:40s} " + "  ".join(f"{k} {v:8.1f}" for k, v in sorted(times.items())), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "tune_aggregate_project.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
