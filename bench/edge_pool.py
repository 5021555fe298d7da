"""EdgePooling's forward, gnnx vs PyG in one process (eager, as both are): 5,000 nodes, 40,000
random edges, 32 features, the same weights; seconds per call (best of 3 rounds of 3) and
whether the pooled graphs agree. Usage: python bench/edge_pool.py [--out DIR]"""
from __future__ import annotations

import argparse
import time

import torch

import gnnx.nn as G
from gnnx.benchmark import harness

NODES, EDGES, FEATURES = 5_000, 40_000, 32


def seconds_per_call(fn, rounds: int = 3, calls: int = 3) -> float:
    fn()
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(calls):
            fn()
        best = min(best, (time.perf_counter() - start) / calls)
    return best


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch_geometric.nn as P

    torch.manual_seed(0)
    x, edge_index = torch.randn(NODES, FEATURES), torch.randint(NODES, (2, EDGES))
    batch = torch.zeros(NODES, dtype=torch.long)
    pyg, ours = P.EdgePooling(FEATURES), G.EdgePooling(FEATURES)
    ours.load_state_dict(pyg.state_dict())
    with torch.no_grad():
        expected, got = pyg(x, edge_index, batch), ours(x, edge_index, batch)
        seconds = {lib: seconds_per_call(lambda m=model: m(x, edge_index, batch))
                   for lib, model in (("pyg", pyg), ("gnnx", ours))}
    same = all(torch.allclose(a, b) if a.is_floating_point() else torch.equal(a, b)
               for a, b in zip(got[:3], expected[:3]))
    env = harness.environment("cpu")
    results = {"environment": env, "nodes": NODES, "edges": EDGES, "features": FEATURES, "seconds": seconds,
               "pooled_graphs_equal": same}
    markdown = "\n".join([
        f"EdgePooling forward, {NODES:,} nodes, {EDGES:,} edges, {FEATURES} features; {env['device']}, "
        f"{env['threads']} threads, torch {env['torch']}, PyG {env['torch_geometric']}; seconds per call, best of 3",
        "", "| PyG | gnnx | gnnx vs PyG | pooled graphs equal |", "|---|---|---|---|",
        f"| {seconds['pyg']:.3f} | {seconds['gnnx']:.3f} | {harness.ratio(seconds['pyg'], seconds['gnnx'])} | {same} |",
        ""])
    harness.report(args.out, "edge_pool", results, lambda _: markdown)


if __name__ == "__main__":
    main()
