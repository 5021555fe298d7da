"""CPU benchmark (issue 3, item 6): seed graph, 3 layers of width 64, forward, median of 7.

Modes: PyG eager and compiled; gnnx eager and compiled (with a prepared ``gnnx.Graph``,
so the MKL CSR kernel runs behind the opaque op ``gnnx::csr_spmm_cpu``); gnnx exported
(``torch.export``, plain tensors, plain ATen) and the AOTInductor package of that program
(what C++ runs). GCN gets pre-normalised edge weights in both libraries.
Writes bench/results/cpu/cpu_table.{json,md}.
"""
import json
import os
import statistics
import sys
import tempfile
import time

import torch

import gnnx
import gnnx.export
import gnnx.nn as gnn
from gnnx import transforms as T

N, E, F, LAYERS, REPS = 10_000, 200_000, 64, 3, 7
MODELS = ["GCN", "GraphSAGE", "GIN"]


def median_ms(fn, reps=REPS, warm=2):
    with torch.no_grad():
        for _ in range(warm):
            fn()
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times)


def main(out_dir):
    import torch_geometric
    import torch_geometric.nn.models as pyg_models

    torch.manual_seed(0)
    x = torch.randn(N, F)
    raw = torch.randint(N, (2, E))
    results = {"torch": torch.__version__, "torch_geometric": torch_geometric.__version__,
               "threads": torch.get_num_threads(), "cpu": _cpu_name(),
               "graph": {"nodes": N, "edges": E, "features": F, "layers": LAYERS}, "models": {}}
    for name in MODELS:
        graph = T.GCNNorm()(gnnx.Graph(raw, N)) if name == "GCN" else gnnx.Graph(raw, N)
        kwargs = {"normalize": False} if name == "GCN" else {}
        torch.manual_seed(0)
        ours = getattr(gnn, name)(F, F, LAYERS, F, **kwargs).eval()
        theirs = getattr(pyg_models, name)(F, F, LAYERS, F, **kwargs).eval()
        theirs.load_state_dict(ours.state_dict())
        w = graph.edge_weight
        ei = graph.edge_index
        extra = (w,) if name == "GCN" else ()
        row = results["models"][name] = {}
        torch._dynamo.reset()
        row["pyg_eager_ms"] = median_ms(lambda: theirs(x, ei, *extra))
        compiled_pyg = torch.compile(theirs)
        row["pyg_compiled_ms"] = median_ms(lambda: compiled_pyg(x, ei, *extra))
        row["gnnx_eager_ms"] = median_ms(lambda: ours(x, graph, *extra))
        compiled = torch.compile(ours, fullgraph=True)
        row["gnnx_compiled_ms"] = median_ms(lambda: compiled(x, graph, *extra))
        program = gnnx.export.export(ours, (x, ei) + extra)
        module = program.module()
        row["gnnx_exported_ms"] = median_ms(lambda: module(x, ei, *extra))
        with tempfile.TemporaryDirectory() as tmp:
            path = torch._inductor.aoti_compile_and_package(program, package_path=os.path.join(tmp, "m.pt2"))
            runner = gnnx.export.package.aoti_load(path)
            row["gnnx_aoti_ms"] = median_ms(lambda: runner(x, ei, *extra))
            out = runner(x, ei, *extra)
        with torch.no_grad():
            row["max_abs_diff_aoti_vs_pyg"] = float((out - theirs(x, ei, *extra)).abs().max())
        for key in ("pyg_compiled_ms", "gnnx_eager_ms", "gnnx_compiled_ms", "gnnx_exported_ms", "gnnx_aoti_ms"):
            row[key.replace("_ms", "_speedup_vs_pyg_eager")] = row["pyg_eager_ms"] / row[key]
        print(name, {k: round(v, 3) for k, v in row.items()}, flush=True)
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, "cpu_table.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = render(results)
    with open(os.path.join(out_dir, "cpu_table.md"), "w") as f:
        f.write(table)
    print(table)


def _cpu_name():
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def render(results):
    lines = [f"CPU forward, {results['cpu']}, {results['threads']} threads, torch {results['torch']}, "
             f"PyG {results['torch_geometric']}; median of {REPS}, milliseconds (speed-up vs PyG eager)\n",
             "| model | PyG eager | PyG compiled | gnnx eager | gnnx compiled | gnnx exported | gnnx AOTInductor |",
             "|---|---|---|---|---|---|---|"]
    for name, r in results["models"].items():
        cells = [f"{r['pyg_eager_ms']:.1f}"]
        for key in ("pyg_compiled", "gnnx_eager", "gnnx_compiled", "gnnx_exported", "gnnx_aoti"):
            cells.append(f"{r[key + '_ms']:.1f} ({r[key + '_speedup_vs_pyg_eager']:.1f}x)")
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "bench/results/cpu")
