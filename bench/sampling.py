"""Neighbour-sampling throughput (issue 6): a 1M-node random graph, fan-outs [15, 10],
batches of 1,024 seeds; sampled edges per second in both modes, and mini-batch GraphSAGE
training throughput (static mode, compiled once). PyG's NeighborLoader is tried in the
same run (it needs pyg-lib or torch-sparse). Usage: python bench/sampling.py [cpu|cuda] [OUT_DIR]"""
import json
import os
import sys
import time

import torch
import torch.nn.functional as F

import gnnx
from gnnx.data import NeighborLoader
from gnnx.nn import GraphSAGE

N, E, FEATURES, CLASSES, FANOUTS, BATCH, BATCHES = 1_000_000, 10_000_000, 64, 10, [15, 10], 1024, 20


def main(device, out_dir):
    torch.manual_seed(0)
    start = time.perf_counter()
    graph = gnnx.Graph(torch.randint(N, (2, E)), N, x=torch.randn(N, FEATURES), y=torch.randint(CLASSES, (N,)))
    graph = graph.to(device)
    results = {"device": torch.cuda.get_device_name() if device == "cuda" else "cpu", "torch": torch.__version__,
               "threads": torch.get_num_threads(), "graph": {"nodes": N, "edges": E, "features": FEATURES},
               "fanouts": FANOUTS, "batch": BATCH, "prepare_s": time.perf_counter() - start}
    for mode, replace in (("static_with_replacement", True), ("exact_without_replacement", False)):
        loader = NeighborLoader(graph, FANOUTS, batch_size=BATCH, replace=replace)
        it = iter(loader)
        next(it)  # warm-up
        edges, start = 0, time.perf_counter()
        for _ in range(BATCHES):
            edges += next(it).num_edges
        if device == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - start
        results[mode] = {"sampled_edges_per_s": edges / elapsed, "batches_per_s": BATCHES / elapsed}
        print(mode, results[mode], flush=True)
    model = GraphSAGE(FEATURES, 64, 2, CLASSES).to(device)
    compiled = torch.compile(model, fullgraph=True, dynamic=False)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    loader = iter(NeighborLoader(graph, FANOUTS, batch_size=BATCH))
    seen, start = 0, None
    with torch._dynamo.config.patch(error_on_recompile=True):
        for step in range(BATCHES + 2):
            if step == 2:
                if device == "cuda":
                    torch.cuda.synchronize()
                start, seen = time.perf_counter(), 0
            sub = next(loader)
            optimizer.zero_grad()
            out = compiled(sub.x, sub.edge_index)[sub.seed_mask]
            F.cross_entropy(out, sub.y[sub.seed_mask]).backward()
            optimizer.step()
            seen += BATCH
    if device == "cuda":
        torch.cuda.synchronize()
    results["train_sage_static_compiled"] = {"seeds_per_s": seen / (time.perf_counter() - start)}
    print("train", results["train_sage_static_compiled"], flush=True)
    try:
        from torch_geometric.data import Data
        from torch_geometric.loader import NeighborLoader as PyGLoader

        data = Data(x=graph.x, edge_index=graph.edge_index, y=graph.y)
        pyg = iter(PyGLoader(data, num_neighbors=FANOUTS, batch_size=BATCH, shuffle=True))
        next(pyg)
        edges, start = 0, time.perf_counter()
        for _ in range(BATCHES):
            edges += next(pyg).num_edges
        results["pyg_neighbor_loader"] = {"sampled_edges_per_s": edges / (time.perf_counter() - start)}
    except Exception as exc:  # noqa: BLE001
        results["pyg_neighbor_loader"] = {"error": f"{type(exc).__name__}: {str(exc)[:300]}"}
    print("pyg", results["pyg_neighbor_loader"], flush=True)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"sampling_{device}.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "cpu", sys.argv[2] if len(sys.argv) > 2 else "bench/results/cpu")
