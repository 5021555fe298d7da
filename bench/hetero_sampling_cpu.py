"""Heterogeneous exact sampling time per batch: the IGBH-shaped graph
(``hetero_benchmark_graph``, power-law degrees), fan-outs [15, 10, 5], 1,024 paper seeds.
Times the ``gnnx`` found on ``PYTHONPATH``, so an older checkout can be timed the same way.

    python bench/hetero_sampling_cpu.py [--scale 0.1] [--batches 10] [--device cpu] [--label NAME] [--out FILE.json]
"""
import argparse
import json
import os
import time

import torch

import gnnx
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--label", default="this checkout")
    parser.add_argument("--out")
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    graph = hetero_benchmark_graph(scale=args.scale, num_features=16).to(args.device)
    loader = NeighborLoader(graph, num_neighbors=[15, 10, 5], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=1024, shuffle=True)
    batches = iter(loader)
    next(batches)  # warm-up
    times = []
    for _ in range(args.batches):
        started = time.perf_counter()
        next(batches)
        if args.device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    row = {"label": args.label, "gnnx": gnnx.__file__, "torch": torch.__version__, "threads": torch.get_num_threads(), "device": args.device,
           "scale": args.scale, "nodes": graph.num_nodes, "edges": graph.num_edges,
           "median_ms": sorted(times)[len(times) // 2] * 1e3, "ms": [t * 1e3 for t in times]}
    print(f"{args.label}: median {row['median_ms']:.1f} ms per batch")
    if args.out:
        rows = json.load(open(args.out)) if os.path.exists(args.out) else []
        json.dump(rows + [row], open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
