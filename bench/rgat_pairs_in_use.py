"""How many (node, relation) pairs of MLPerf's trimmed R-GAT layers carry an edge (CPU).

Per layer of the trimmed model (``trim_to_layer``) and source node type: the share of the
``N x R`` pairs whose node is a source of one of the relation's edges (what
:func:`gnnx.ops.grouped_project` computes, against the ``N x R`` of one product per type), the
share of nodes used by any relation, and the share of blocks of 32 / 64 / 128 consecutive
rows holding a used pair per relation (what skipping blocks without reordering could save).
One batch of 1,024 seeds, fan-outs [15, 10, 5], of the generated IGBH-shaped graph.
Usage: python bench/rgat_pairs_in_use.py [scale] > bench/results/cpu/rgat_pairs_in_use.txt
"""
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rgat import seeds_loader  # noqa: E402

from gnnx.datasets import hetero_benchmark_graph  # noqa: E402
from gnnx.utils import trim_to_layer  # noqa: E402


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    graph = hetero_benchmark_graph(scale=scale, num_features=8)
    batch = next(iter(seeds_loader(graph)))
    print(f"IGBH-shaped graph, scale {scale}: {graph.num_nodes:,} nodes, {graph.num_edges:,} edges; one batch")
    x_dict, edge_index_dict = batch.x_dict, batch.edge_index_dict
    for layer in range(3):
        x_dict, edge_index_dict, _ = trim_to_layer(layer, batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict,
                                                   x_dict, edge_index_dict)
        by_source = {}
        for edge_type in edge_index_dict:
            by_source.setdefault(edge_type[0], []).append(edge_type)
        for node_type, group in by_source.items():
            rows = x_dict[node_type].size(0)
            used = torch.zeros(rows, len(group), dtype=torch.bool)
            for k, edge_type in enumerate(group):
                used[edge_index_dict[edge_type][0], k] = True
            blocks = []
            for size in (32, 64, 128):
                padded = torch.nn.functional.pad(used, (0, 0, 0, -rows % size))
                blocks.append(padded.view(-1, size, len(group)).any(1).float().mean().item() if rows else 0.0)
            share = used.float().mean().item() if rows else 0.0
            print(f"layer {layer} {node_type:9s} rows {rows:7,d} relations {len(group)}: pairs in use {share:.3f} "
                  f"(per relation {[round(v, 3) for v in used.float().mean(0).tolist()] if rows else []}), "
                  f"rows used by any {used.any(1).float().mean().item() if rows else 0:.3f}, "
                  f"blocks of 32/64/128 in use {blocks[0]:.3f}/{blocks[1]:.3f}/{blocks[2]:.3f}")


if __name__ == "__main__":
    main()
