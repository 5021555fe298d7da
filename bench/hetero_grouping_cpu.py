"""Grouped against per-relation R-GAT layers on the CPU (gnnx/nn/hetero_gat.py's choice by
device): one HeteroConv of bipartite GATConvs (4 heads x 16) on the IGBH-shaped graph at
scale 0.04 (40,000 nodes, 64 features), 8 relations of 60,000 fresh random edges per step,
forward + backward. Run each configuration in its own process:

    python bench/hetero_grouping_cpu.py grouped|per eager|compiled [--profile]

``--profile`` prints one more step's ops by input shape (where the joined edge lists cost).
"""
import sys
import time

import torch

import gnnx.nn as gnn
import gnnx.nn.hetero_gat as hetero_gat
from gnnx.datasets import hetero_benchmark_graph


def main(mode: str, how: str, profile: bool = False) -> None:
    graph = hetero_benchmark_graph(scale=0.04, num_features=64)
    x = graph.x_dict
    sizes = {t: v.size(0) for t, v in x.items()}
    gen = torch.Generator().manual_seed(0)

    def fresh():
        return {e: torch.stack([torch.randint(sizes[e[0]], (60000,), generator=gen),
                                torch.randint(sizes[e[2]], (60000,), generator=gen)]) for e in graph.edge_types}

    torch.manual_seed(0)
    conv = gnn.HeteroConv({e: gnn.GATConv((-1, -1), 16, heads=4, add_self_loops=False) for e in graph.edge_types})
    with torch.no_grad():
        conv(x, fresh())
    hetero_gat.ENABLED = mode == "grouped"
    layer = torch.compile(conv, fullgraph=True, dynamic=True) if how == "compiled" else conv
    edges = [fresh() for _ in range(7)]
    for i, edge_index in enumerate(edges):
        if i == 2:
            started = time.perf_counter()
        out = layer(x, edge_index)
        sum(v.sum() for v in out.values()).backward()
    print(f"{mode} {how}: {(time.perf_counter() - started) / 5 * 1e3:.0f} ms per step")
    if profile:
        with torch.profiler.profile(record_shapes=True) as prof:
            out = layer(x, edges[-1])
            sum(v.sum() for v in out.values()).backward()
        print(prof.key_averages(group_by_input_shape=True).table(sort_by="self_cpu_time_total", row_limit=12,
                                                                 max_name_column_width=25, max_shapes_column_width=70))


if __name__ == "__main__":
    main(*sys.argv[1:3], profile="--profile" in sys.argv)
