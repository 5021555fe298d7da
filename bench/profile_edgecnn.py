"""Where EdgeCNN's forward+backward spends GPU time on the seed graph (issue #17: EdgeCNN
fwd+bwd >= 8x PyG eager on the prepared path, >= 5x through ``gnnx.compile``).

The seed table's model (``EdgeCNN(64, 64, 3, 64)``, 10,000 nodes, 200,000 random edges),
``out.sum().backward()`` per step: the prepared path (a ``Graph``, ``torch.compile(fullgraph=True)``)
and ``gnnx.compile`` with a bare ``edge_index``; per mode the median step time (CUDA events)
and the top CUDA kernels (torch.profiler). Usage: python bench/profile_edgecnn.py [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os

import torch
from torch.profiler import ProfilerActivity, profile

import gnnx
import gnnx.nn as gnn
from gnnx.benchmark import harness

N, E, F, LAYERS = 10_000, 200_000, 64, 3


def fwd_bwd(model, *args):
    def step():
        out = model(*args)
        out.sum().backward()
    return step


def top_kernels(step, rows: int = 25) -> str:
    for _ in range(5):
        step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(10):
            step()
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=rows, max_name_column_width=90)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--modes", nargs="*", default=["prepared_compiled", "gnnx_compile"])
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(N, F, device="cuda")
    edge_index = torch.randint(N, (2, E), device="cuda")
    graph = gnnx.Graph(edge_index.cpu(), N).to("cuda")
    model = gnn.EdgeCNN(F, F, LAYERS, F).cuda()
    steps = {
        "prepared_compiled": lambda: fwd_bwd(torch.compile(model, fullgraph=True), x, graph),
        "prepared_eager": lambda: fwd_bwd(model, x, graph),
        "gnnx_compile": lambda: fwd_bwd(gnnx.compile(model), x, edge_index),
    }
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "ms": {}}
    report = []
    for mode in args.modes:
        torch._dynamo.reset()
        step = steps[mode]()
        ms = harness.time_steps(step, "cuda", 100, warmup=10)["best_ms"]
        result["ms"][mode] = ms
        report.append(f"===== {mode}: {ms:.3f} ms per fwd+bwd step =====")
        report.append(top_kernels(step))
    text = "\n".join(report)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "edgecnn_profile.json"), "w") as f:
        json.dump(result, f, indent=2)
    with open(os.path.join(args.out, "edgecnn_profile.txt"), "w") as f:
        f.write(f"{result['device']}, torch {result['torch']}\n{text}\n")


if __name__ == "__main__":
    main()
