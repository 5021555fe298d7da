"""Scale benchmark (issue 3, item 5): full-batch forward+backward on an ogbn-products-sized
random graph (2.4M nodes, 62M edges, 100 features), GCN and GraphSAGE (3 layers, hidden 64),
gnnx vs PyG in one process: seconds per step and peak GPU memory. Writes $OUT/scale.json."""
import json
import os
import time

import torch

import gnnx
import gnnx.nn as gnn
from gnnx import transforms as T

N, E, F, HIDDEN, LAYERS, STEPS = 2_400_000, 62_000_000, 100, 64, 3, 5
DEV = "cuda"


def measure(fn):
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    try:
        fn()  # warm-up (and compile)
        torch.cuda.synchronize()
        start = time.perf_counter()
        for _ in range(STEPS):
            fn()
        torch.cuda.synchronize()
        return {"s_per_step": (time.perf_counter() - start) / STEPS,
                "peak_extra_gib": (torch.cuda.max_memory_allocated() - base) / 2**30}
    except torch.OutOfMemoryError as exc:
        return {"error": "out of memory: " + str(exc)[:200]}


def main():
    import torch_geometric.nn.models as pyg_models

    torch.manual_seed(0)
    x = torch.randn(N, F, device=DEV)
    raw = torch.randint(N, (2, E), device=DEV)
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
               "graph": {"nodes": N, "edges": E, "features": F, "hidden": HIDDEN, "layers": LAYERS}, "models": {}}
    for name in ("GCN", "GraphSAGE"):
        t0 = time.perf_counter()
        graph = gnnx.Graph(raw, N)
        if name == "GCN":
            graph = T.GCNNorm()(graph)
        torch.cuda.synchronize()
        prep_s = time.perf_counter() - t0
        kwargs = {"normalize": False} if name == "GCN" else {}
        ours = getattr(gnn, name)(F, HIDDEN, LAYERS, HIDDEN, **kwargs).to(DEV)
        theirs = getattr(pyg_models, name)(F, HIDDEN, LAYERS, HIDDEN, **kwargs).to(DEV)
        theirs.load_state_dict(ours.state_dict())
        extra = (graph.edge_weight,) if name == "GCN" else ()
        ei = graph.edge_index

        def step(model, adj):
            def run():
                model(x, adj, *extra).sum().backward()
            return run

        row = results["models"][name] = {"prepare_graph_s": prep_s}
        row["gnnx_eager"] = measure(step(ours, graph))
        torch._dynamo.reset()
        row["gnnx_compiled"] = measure(step(torch.compile(ours, fullgraph=True), graph))
        row["pyg_eager"] = measure(step(theirs, ei))
        print(name, row, flush=True)
        del graph
        torch.cuda.empty_cache()
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "scale.json"), "w") as f:
        json.dump(results, f, indent=2)


if __name__ == "__main__":
    main()
