"""A/B of the CPU EdgeConv backward (`gnnx.ops.edge_mlp`), one process, rounds interleaved.

EdgeCNN(64, 64, 3) training steps on the seed graph (10,000 nodes, 200,000 edges), the user's
path (bare ``edge_index``, Adam). Variants of ``_max_in_chunks_backward``:

* ``one pass`` (shipped): the CSR's ranges hold whole rows, so ties are counted per range;
* ``two passes`` (session 25): a first pass over every chunk counts the ties.

``python bench/edge_mlp_cpu_backward_ab.py`` (ms per step, min and median of 6 rounds).
"""
import time

import torch
import torch.nn.functional as F

import gnnx.nn
from gnnx.benchmark.harness import environment
from gnnx.benchmark.seed import seed_graph
from gnnx.ops import edge_mlp

one_pass = edge_mlp._max_in_chunks_backward


def two_passes(grad, a, b, weight, bias, src, dst, out, rowptr):
    return one_pass(grad, a, b, weight, bias, src, dst, out, None)


def main() -> None:
    torch.manual_seed(0)
    x, edge_index, y = seed_graph("cpu")
    model = gnnx.nn.EdgeCNN(64, 64, 3)
    optimizer = torch.optim.Adam(model.parameters())

    def step():
        optimizer.zero_grad()
        F.cross_entropy(model(x, edge_index), y).backward()
        optimizer.step()

    for _ in range(3):
        step()
    variants = {"one pass": one_pass, "two passes": two_passes}
    times = {name: [] for name in variants}
    for _ in range(6):
        for name, backward in variants.items():
            edge_mlp._max_in_chunks_backward = backward
            step()
            started = time.perf_counter()
            for _ in range(3):
                step()
            times[name].append((time.perf_counter() - started) / 3 * 1e3)
    edge_mlp._max_in_chunks_backward = one_pass
    env = environment("cpu")
    print(f"EdgeCNN training step, seed graph, {env['device']}, torch {env['torch']}, {env['threads']} threads")
    for name, values in times.items():
        values.sort()
        print(f"{name:12s} min {values[0]:.1f} ms  median {values[len(values) // 2]:.1f} ms")


if __name__ == "__main__":
    main()
