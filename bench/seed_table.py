"""The seed benchmark's prepared path: gnnx vs PyG on the GPU, one process, one table.

The user's path (bare ``edge_index``, default arguments, ``gnnx.compile``, an ordinary
loop with an optimizer) is :mod:`gnnx.benchmark.seed` (``gnnx bench seed``); this script
keeps the prepared rows (a ``gnnx.Graph``, pre-normalised GCN weights, whole-step capture).

10,000 nodes, 200,000 random edges, 64 features, 3 layers of width 64; GCN, GraphSAGE,
GIN, GAT, EdgeCNN; 500 steps of forward and of forward+backward after warm-up. Modes:
PyG eager, PyG compiled, gnnx eager, gnnx compiled, gnnx compiled + CUDA graph
(``gnnx.cuda_graph.CapturedStep``), ``gnnx.compile`` with a bare ``edge_index`` (the user's
path, on the same table), and ``torch.compile(mode="reduce-overhead")`` for both libraries. GCN gets pre-normalised edge weights in both libraries (``normalize=False``).
The plain-PyTorch reference sketch (cuSPARSE + one CUDA graph) runs in a subprocess.
``TF32=1`` runs every row's fp32 products as TF32 (both libraries alike). A forward+backward
step adds its gradients into the previous step's (the protocol of every published table);
``GRADS=none`` sets them to ``None`` first, as ``optimizer.zero_grad()`` leaves them in a
training loop, so the backward writes fresh gradients without the add kernels.
``EDGE_MLP_CONFIG`` (JSON) updates the fused EdgeConv kernels' ``CONFIG`` (launch options).
Writes $OUT/seed_table.json and $OUT/seed_table.md.
"""
import json
import os
import subprocess
import sys
import traceback

import torch

import gnnx
import gnnx.nn as gnn
from gnnx import transforms as T
from gnnx.benchmark import harness
from gnnx.cuda_graph import CapturedStep

DEV = "cuda"
N, E, F, LAYERS, STEPS, WARM = 10_000, 200_000, 64, 3, 500, 20
OUT = os.environ.get("OUT", "/tmp")
if os.environ.get("EDGE_MLP") == "unfused":  # EdgeConv's message MLP per edge (no fused kernels)
    from gnnx.ops import dispatch
    dispatch.FUSED_EDGE_MLP = False
if os.environ.get("EDGE_MLP_CONFIG"):  # fused EdgeConv launch options, e.g. '{"bwd_atomic_b": true}'
    from gnnx.ops import triton_edge_mlp
    triton_edge_mlp.CONFIG.update(json.loads(os.environ["EDGE_MLP_CONFIG"]))
GRADS = os.environ.get("GRADS", "accumulate")
if os.environ.get("TF32") == "1":  # every row's fp32 products as TF32, both libraries alike
    torch.set_float32_matmul_precision("high")
MODELS = ["GCN", "GraphSAGE", "GIN", "GAT", "EdgeCNN"]


def build(name):
    import torch_geometric.nn.models as pyg_models

    kwargs = {"normalize": False} if name == "GCN" else {}
    torch.manual_seed(0)
    ours = getattr(gnn, name)(F, F, LAYERS, F, **kwargs).to(DEV)
    theirs = getattr(pyg_models, name)(F, F, LAYERS, F, **kwargs).to(DEV)
    theirs.load_state_dict(ours.state_dict())
    return ours, theirs


def timeit(fn, steps=STEPS, warm=WARM):
    """Seconds for ``steps`` calls (the best of 3 rounds, from the shared harness)."""
    return harness.time_steps(fn, DEV, steps, warmup=warm)["best_ms"] * steps / 1000


def main(models):
    torch.manual_seed(0)
    x = torch.randn(N, F, device=DEV)
    raw = torch.randint(N, (2, E))
    graphs = {
        "plain": gnnx.Graph(raw, N).to(DEV),
        "gcn": T.GCNNorm()(gnnx.Graph(raw, N)).to(DEV),
    }
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "steps": STEPS, "grads": GRADS,
               "graph": {"nodes": N, "edges": E, "features": F, "layers": LAYERS}, "models": {}}
    try:
        import torch_geometric
        results["torch_geometric"] = torch_geometric.__version__
        import triton
        results["triton"] = triton.__version__
    except ImportError:
        pass
    for name in models:
        graph = graphs["gcn" if name == "GCN" else "plain"]
        w = graph.edge_weight
        ours, theirs = build(name)
        ei = graph.edge_index
        row = results["models"][name] = {}

        def call_pyg(m):
            return (lambda: m(x, ei, w)) if name == "GCN" else (lambda: m(x, ei))

        def call_ours(m):
            return (lambda: m(x, graph, w)) if name == "GCN" else (lambda: m(x, graph))

        with torch.no_grad():
            ref = call_pyg(theirs)()
            got = call_ours(ours)()
            row["max_abs_diff_vs_pyg"] = float((ref - got).abs().max())

        def fwd(call):
            def run():
                with torch.no_grad():
                    return call()
            return run

        params = [*ours.parameters(), *theirs.parameters()]

        def fwd_bwd(call):
            def run():
                if GRADS == "none":
                    for p in params:
                        p.grad = None
                out = call()
                out.sum().backward()
                return out
            return run

        torch._dynamo.reset()
        pyg_compiled = torch.compile(theirs)
        gnnx_compiled = torch.compile(ours, fullgraph=True)
        modes = {
            "pyg_eager": call_pyg(theirs),
            "pyg_compiled": call_pyg(pyg_compiled),
            "gnnx_eager": call_ours(ours),
            "gnnx_compiled": call_ours(gnnx_compiled),
        }
        for mode, call in modes.items():
            for kind, wrap in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
                key = f"{mode}_{kind}_s"
                try:
                    row[key] = timeit(wrap(call))
                except Exception as exc:  # noqa: BLE001
                    row[key] = None
                    row[key.replace("_s", "_error")] = repr(exc)[:300]
                print(name, key, row[key], flush=True)
        # CUDA graph of the compiled model: one replay per step.
        for kind, wrap in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
            key = f"gnnx_cudagraph_{kind}_s"
            try:
                step = CapturedStep(wrap(call_ours(gnnx_compiled)))
                row[key] = timeit(step)
            except Exception:  # noqa: BLE001
                row[key] = None
                row[key.replace("_s", "_error")] = traceback.format_exc()[-300:]
            print(name, key, row[key], flush=True)
        # The user's path on the same table: gnnx.compile with a bare edge_index tensor.
        torch._dynamo.reset()
        bare = gnnx.compile(ours)
        for kind, wrap in (("fwd", fwd), ("fwd_bwd", fwd_bwd)):
            key = f"gnnx_compile_bare_{kind}_s"
            try:
                row[key] = timeit(wrap((lambda: bare(x, ei, w)) if name == "GCN" else (lambda: bare(x, ei))))
            except Exception as exc:  # noqa: BLE001
                row[key] = None
                row[key.replace("_s", "_error")] = repr(exc)[:300]
            print(name, key, row[key], flush=True)
        # torch.compile(mode="reduce-overhead"), training step, both libraries.
        for lib, model, call in (("gnnx", ours, call_ours), ("pyg", theirs, call_pyg)):
            key = f"{lib}_reduce_overhead_fwd_bwd_s"
            try:
                torch._dynamo.reset()
                compiled = torch.compile(model, mode="reduce-overhead")
                inner = fwd_bwd(call(compiled))

                def step():
                    torch.compiler.cudagraph_mark_step_begin()
                    return inner()
                row[key] = timeit(step)
            except Exception as exc:  # noqa: BLE001
                row[key] = None
                row[key.replace("_s", "_error")] = repr(exc)[:300]
            print(name, key, row[key], flush=True)
        del ours, theirs
        torch.cuda.empty_cache()

    if "GCN" not in models:
        return finish(results, "_".join(models) + (f"_{os.environ['EDGE_MLP']}" if os.environ.get("EDGE_MLP") else "")
                      + ("_tf32" if os.environ.get("TF32") == "1" else ""))
    sketch = subprocess.run([sys.executable, os.path.join(os.path.dirname(__file__), "reference",
                                                          "gcn_csr_cudagraph.py")],
                            capture_output=True, text=True, env={**os.environ, "OUT": OUT})
    try:
        results["reference_sketch"] = json.loads(sketch.stdout.strip().splitlines()[-1])
    except Exception:  # noqa: BLE001
        results["reference_sketch"] = {"error": sketch.stderr[-500:]}
    finish(results, "_".join(models))


def finish(results, tag, out_dir=OUT):
    with open(os.path.join(out_dir, f"seed_table_{tag}.json"), "w") as f:
        json.dump(results, f, indent=2)
    table = render(results)
    with open(os.path.join(out_dir, f"seed_table_{tag}.md"), "w") as f:
        f.write(table)
    print(table)


def merge(paths, out_dir):
    """Join the JSON of several runs (same device and versions) into one table."""
    merged = None
    for path in paths:
        with open(path) as f:
            part = json.load(f)
        if merged is None:
            merged = part
        else:
            assert part["device"] == merged["device"] and part["torch"] == merged["torch"]
            merged["models"].update(part["models"])
            merged.setdefault("reference_sketch", part.get("reference_sketch"))
    merged["models"] = {m: merged["models"][m] for m in MODELS if m in merged["models"]}
    finish(merged, "all", out_dir)


def best_gnnx(row, kind):
    keys = [f"gnnx_eager_{kind}_s", f"gnnx_compiled_{kind}_s", f"gnnx_cudagraph_{kind}_s"]
    if kind == "fwd_bwd":
        keys.append("gnnx_reduce_overhead_fwd_bwd_s")
    vals = [(row[k], k) for k in keys if row.get(k)]
    return min(vals) if vals else (None, None)


def _ratio(row, kind):
    pe, bare = row.get(f"pyg_eager_{kind}_s"), row.get(f"gnnx_compile_bare_{kind}_s")
    return f"{pe / bare:.1f}x" if pe and bare else "-"


def render(results):
    lines = [f"Seed benchmark on {results['device']}, torch {results['torch']}, "
             f"PyG {results.get('torch_geometric')}, triton {results.get('triton')}; "
             f"{results['steps']} steps, seconds (lower is better); fwd+bwd gradients "
             f"{'set to None each step' if results.get('grads', 'accumulate') == 'none' else 'accumulated'}"
             + ("; TF32 matrix products in every row" if os.environ.get("TF32") == "1" else "") + "\n",
             "| model | pass | PyG eager | PyG compiled | gnnx eager | gnnx compiled | gnnx compiled + CUDA graph "
             "| best gnnx vs PyG eager | vs PyG compiled |", "|---|---|---|---|---|---|---|---|---|"]
    fmt = lambda v: "fail" if v is None else f"{v:.3f}"  # noqa: E731
    for name, row in results["models"].items():
        for kind in ("fwd", "fwd_bwd"):
            best, _ = best_gnnx(row, kind)
            pe, pc = row.get(f"pyg_eager_{kind}_s"), row.get(f"pyg_compiled_{kind}_s")
            ratio_e = f"{pe / best:.1f}x" if best and pe else "-"
            ratio_c = f"{pc / best:.1f}x" if best and pc else "-"
            lines.append(f"| {name} | {kind.replace('_', '+')} | {fmt(pe)} | {fmt(pc)} | "
                         f"{fmt(row.get(f'gnnx_eager_{kind}_s'))} | {fmt(row.get(f'gnnx_compiled_{kind}_s'))} | "
                         f"{fmt(row.get(f'gnnx_cudagraph_{kind}_s'))} | {ratio_e} | {ratio_c} |")
    lines.append("\n`gnnx.compile` with a bare edge_index (the user's path), vs PyG eager: " + "; ".join(
        f"{n} fwd {fmt(r.get('gnnx_compile_bare_fwd_s'))} ({_ratio(r, 'fwd')}), "
        f"fwd+bwd {fmt(r.get('gnnx_compile_bare_fwd_bwd_s'))} ({_ratio(r, 'fwd_bwd')})"
        for n, r in results["models"].items()))
    lines.append("\nreduce-overhead (torch.compile CUDA graphs), fwd+bwd: " + ", ".join(
        f"{n}: gnnx {fmt(r.get('gnnx_reduce_overhead_fwd_bwd_s'))} / PyG {fmt(r.get('pyg_reduce_overhead_fwd_bwd_s'))}"
        for n, r in results["models"].items()))
    sk = results.get("reference_sketch", {})
    gcn = results["models"].get("GCN", {})
    best, _ = best_gnnx(gcn, "fwd_bwd")
    if "cudagraph_fwd_bwd_s" in sk and best:
        lines.append(f"\nreference sketch (cuSPARSE + CUDA graph) GCN fwd+bwd {sk['cudagraph_fwd_bwd_s']:.3f} s, "
                     f"fwd {sk['cudagraph_fwd_s']:.3f} s; best gnnx GCN fwd+bwd {best:.3f} s "
                     f"= {sk['cudagraph_fwd_bwd_s'] / best:.2f}x the sketch's speed")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:2] == ["--merge"]:
        merge(sys.argv[3:], sys.argv[2])
    else:
        main(sys.argv[1:] or MODELS)
