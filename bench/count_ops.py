"""ATen operators one eager forward issues, gnnx next to PyG (the seed models, default
arguments, a 200-node graph, CPU): launch-bound eager steps cost per operator.
Usage: python bench/count_ops.py [MODEL ...] > bench/results/cpu/op_counts.txt"""
import sys
from collections import Counter

import torch
from torch.profiler import ProfilerActivity, profile

from gnnx.benchmark.seed import build, seed_graph


def top_level_aten(events):
    return [e.name for e in events if e.name.startswith("aten::")
            and (e.cpu_parent is None or not e.cpu_parent.name.startswith("aten::"))]


def main(models):
    x, edge_index, _ = seed_graph("cpu", nodes=200, edges=800)
    print(f"# torch {torch.__version__}; top-level ATen operators per eval forward")
    for name in models:
        for mode in ("gnnx_eager", "pyg_eager"):
            model = build(name, mode, "cpu").eval()
            with torch.no_grad():
                model(x, edge_index)  # warm: structure cached
                with profile(activities=[ProfilerActivity.CPU]) as prof:
                    model(x, edge_index)
            ops = top_level_aten(prof.events())
            print(f"{name} {mode}: {len(ops)} ops; most common {Counter(ops).most_common(6)}")


if __name__ == "__main__":
    main(sys.argv[1:] or ["GCN", "GraphSAGE", "GIN", "GAT", "EdgeCNN"])
