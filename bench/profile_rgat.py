"""Where an R-GAT training step spends its GPU time (bench/rgat.py's setting): the top CUDA
kernels of a few steps per configuration, from torch.profiler."""
from __future__ import annotations

import argparse
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from rgat_igbh import RGAT, materialise  # noqa: E402

import gnnx  # noqa: E402
from gnnx.data import NeighborLoader  # noqa: E402
from gnnx.datasets import hetero_benchmark_graph  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--configs", nargs="+", default=["pyg eager", "gnnx eager"])
    parser.add_argument("--rows", type=int, default=25)
    args = parser.parse_args()
    import torch_geometric.nn as pyg_nn

    graph = hetero_benchmark_graph(scale=args.scale, num_features=128).to("cuda")
    loader = NeighborLoader(graph, num_neighbors=[15, 10, 5], input_nodes=("paper", graph["paper"].train_mask),
                            batch_size=1024, shuffle=True)
    batches = [b for _, b in zip(range(6), loader)]
    for config in args.configs:
        torch._dynamo.reset()
        nn = pyg_nn if config.startswith("pyg") else gnnx.nn
        model = RGAT(nn, graph.metadata(), 128, 19).cuda()
        materialise(model, batches[0])
        step_model = model
        if config == "pyg compiled":
            step_model = torch.compile(model, dynamic=True)
        elif config == "gnnx.compile":
            step_model = gnnx.compile(model)
        optimizer = torch.optim.Adam(model.parameters(), lr=0.001)

        def step(batch):
            optimizer.zero_grad()
            out = step_model(batch.x_dict, batch.edge_index_dict)[:1024]
            F.cross_entropy(out, batch["paper"].y[:1024]).backward()
            optimizer.step()

        for batch in batches[:3]:
            step(batch)
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU,
                                                torch.profiler.ProfilerActivity.CUDA]) as prof:
            for batch in batches[3:]:
                step(batch)
            torch.cuda.synchronize()
        print(f"==== {config}")
        print(prof.key_averages().table(sort_by="cuda_time_total", row_limit=args.rows, max_name_column_width=70))


if __name__ == "__main__":
    main()
