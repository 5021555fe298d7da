"""Eager CPU kNN in a high-dimensional feature space (DynamicEdgeConv's: 8,192 points of 64
features, k = 20) for batches of 1, 4 and 16 clouds, and 5,000 graphs of 20 points (16 features,
k = 8): all pairs by a matrix product, which the grid (1-4-D) cannot serve. Writes bench/results/cpu/knn_highdim_cpu.{json,md}; ``--out DIR``
elsewhere (e.g. for a run of older code from a git worktree)."""
import argparse
import json
import os
import time

import torch

from gnnx.benchmark.harness import environment
from gnnx.ops import knn_graph


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "results", "cpu"))
    out = parser.parse_args().out
    torch.manual_seed(0)
    x, k = torch.randn(8192, 64), 20
    seconds = {}
    for clouds in (1, 4, 16):
        batch = torch.arange(clouds).repeat_interleave(x.size(0) // clouds)
        knn_graph(x, k, batch)
        times = []
        for _ in range(3):
            start = time.perf_counter()
            edge_index = knn_graph(x, k, batch)
            times.append(time.perf_counter() - start)
        assert bool((batch[edge_index[0]] == batch[edge_index[1]]).all())
        seconds[clouds] = round(min(times), 4)
    # many small graphs (molecules in a feature space): 5,000 graphs of 20 points, 16-D, k = 8
    small, small_batch = torch.randn(100_000, 16), torch.arange(5000).repeat_interleave(20)
    start = time.perf_counter()
    knn_graph(small, 8, small_batch)
    many_small = round(time.perf_counter() - start, 3)
    result = {"points": x.size(0), "features": x.size(1), "k": k, "threads": torch.get_num_threads(),
              "knn_graph_s_by_clouds": seconds, "many_small_graphs_s": many_small, **environment("cpu")}
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "knn_highdim_cpu.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(out, "knn_highdim_cpu.md"), "w") as f:
        f.write(f"# Eager CPU knn_graph, 8,192 points x 64 features, k = 20 ({result['threads']} threads, "
                f"{result['device']}, torch {torch.__version__})\n\n| clouds | seconds (best of 3) |\n|---:|---:|\n"
                + "".join(f"| {c} | {s:.3f} |\n" for c, s in seconds.items())
                + f"\n5,000 graphs of 20 points, 16 features, k = 8 (one call): {many_small:.3f} s\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
