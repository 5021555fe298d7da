"""Temporal (and disjoint) heterogeneous neighbour sampling time per batch, as RelBench's pipeline
calls PyG's NeighborLoader: the IGBH-shaped graph (``hetero_benchmark_graph``) with a random
time per node, ``time_attr="time"``, fan-outs [15, 10], 512 paper seeds a batch. PyG's loader is
timed in the same process, rounds alternating, when pyg-lib (which PyG's temporal sampling
needs) is installed.

    python bench/temporal_sampling.py [--scale 0.1] [--batches 10] [--device cpu] [--out FILE.json]
"""
import argparse
import json
import platform
import time

import torch

import gnnx
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph


def _time_batches(loader, batches: int, device: str) -> list:
    iterator = iter(loader)
    next(iterator)  # warm-up
    times = []
    for _ in range(batches):
        started = time.perf_counter()
        next(iterator)
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return times


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.1)
    parser.add_argument("--batches", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out")
    args = parser.parse_args()
    graph = hetero_benchmark_graph(scale=args.scale, num_features=16)
    gen = torch.Generator().manual_seed(0)
    for node_type in graph.node_types:
        graph[node_type].time = torch.randint(0, 1000, (int(graph[node_type].num_nodes),), generator=gen)
    graph = graph.to(args.device)
    seeds = ("paper", graph["paper"].train_mask)
    options = dict(num_neighbors=[15, 10], input_nodes=seeds, batch_size=512, shuffle=True, time_attr="time")
    loaders = {"gnnx": NeighborLoader(graph, **options)}
    try:
        import pyg_lib  # noqa: F401  (PyG's temporal sampling needs it)
        from torch_geometric.loader import NeighborLoader as PyGNeighborLoader

        data = graph.to("cpu").to_pyg()
        loaders["PyG"] = PyGNeighborLoader(data, num_neighbors=[15, 10], input_nodes=("paper", data["paper"].train_mask),
                                           batch_size=512, shuffle=True, time_attr="time")
    except ImportError as error:
        print(f"PyG not timed: {error}")
    rows = {name: [] for name in loaders}
    for _ in range(args.rounds):
        for name, loader in loaders.items():
            rows[name] += _time_batches(loader, args.batches, args.device if name == "gnnx" else "cpu")
    result = {"gnnx": gnnx.__file__, "torch": torch.__version__, "device": args.device,
              "device_name": torch.cuda.get_device_name() if args.device.startswith("cuda") else platform.processor(),
              "threads": torch.get_num_threads(), "scale": args.scale, "nodes": graph.num_nodes,
              "edges": graph.num_edges, "median_ms": {n: sorted(t)[len(t) // 2] * 1e3 for n, t in rows.items()},
              "ms": {n: [x * 1e3 for x in t] for n, t in rows.items()}}
    for name, median in result["median_ms"].items():
        print(f"{name}: median {median:.1f} ms per batch ({args.device if name == 'gnnx' else 'cpu'})")
    if args.out:
        json.dump(result, open(args.out, "w"), indent=1)


if __name__ == "__main__":
    main()
