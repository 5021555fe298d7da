"""R-GAT training throughput, gnnx vs PyG side by side in one process (issue #16's target).

MLPerf's R-GAT (examples/rgat_igbh.py: 3 layers, hidden 128, 4 heads) on the generated
IGBH-shaped graph (4 node types, 8 edge types; ``--scale 1``: ~1M nodes, ~10M edges),
mini-batches of 1,024 paper seeds sampled with fan-outs [15, 10, 5] by gnnx's heterogeneous
sampler. The same pre-sampled batches feed every configuration, so the ratio is the
training step's (forward, backward, Adam); sampling is timed on its own. Each model is
called the user's way, ``model(x_dict, edge_index_dict)`` with plain tensors:

* ``pyg eager``, ``pyg compiled`` (``torch.compile(dynamic=True)``),
* ``gnnx eager``, ``gnnx.compile``;
* any of them ``(trimmed)``: each layer's inputs trimmed to what its outputs need
  (``trim_to_layer``, MLPerf's ``with_trim``; the per-hop counts are passed as Python ints,
  which ``dynamic=True`` keeps symbolic, so one compiled frame serves every batch),
* ``(static)``: the same batches padded per type and hop (``pad_hetero`` with per-hop
  sizes, the static loader's layout): one shape per layer even when trimmed;
  ``(cuda graphs)`` compiles those with ``mode="reduce-overhead", dynamic=False`` (CUDA
  graph trees replay the step),
* ``(aten backward)`` gnnx rows: the grouped projections' backward as cuBLAS products instead
  of :func:`gnnx.ops.project`'s kernels, which skip the rows without gradient;
* ``(node tables)`` gnnx rows: each node type's product over all its rows and relations, not
  (the default since session 23) only over the ``(node, relation)`` pairs the batch's edges use
  (:func:`gnnx.ops.grouped_project`); ``(compact rows)`` names the default in a label;
* ``(separate dst scores)`` gnnx rows: each destination type's attention scores as a product
  of their own, not columns of the same type's source-table product;
* ``(per relation)`` / ``(grouped)`` gnnx rows: force ``gnnx.nn.hetero_gat.ENABLED`` off
  or on (grouped: one GEMM per source type, one attention op per layer; the
  default groups on CUDA only).

Compiled rows report how many graphs Dynamo compiled (1 = no recompiles). With
``--profile``, the top CUDA kernels of three more steps per row go to ``rgat_profile.txt``.
``--tf32`` lets every row's fp32 matrix products run as TF32 (``torch.set_float32_matmul_precision
("high")``, both libraries alike; gnnx's Triton products follow the same flag).
``--amp`` runs every row's forward and loss under ``torch.autocast`` in bf16 (mixed precision,
as MLPerf submissions train; no loss scaling needed).
A row that raises leaves its whole traceback in ``rgat_error.txt``, a row whose CUDA-graph
capture failed (run uncaptured) the capture's in ``rgat_capture_error.txt``. Writes ``rgat.json`` and ``rgat.md`` (``rgat_tf32.*`` with ``--tf32``, ``rgat_amp.*`` with
``--amp``) to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from typing import Tuple

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from rgat_igbh import RGAT, materialise  # noqa: E402

import gnnx  # noqa: E402
import gnnx.nn.hetero_gat  # noqa: E402
import gnnx.ops.grouped_projection  # noqa: E402
from gnnx.data import NeighborLoader, pad_hetero  # noqa: E402
from gnnx.datasets import hetero_benchmark_graph  # noqa: E402


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def seeds_loader(graph, batch_size: int = 1024) -> NeighborLoader:
    """The benchmark's sampler: ``batch_size`` training papers per batch, fan-outs [15, 10, 5]."""
    return NeighborLoader(graph, num_neighbors=[15, 10, 5], input_nodes=("paper", graph["paper"].train_mask),
                          batch_size=batch_size, shuffle=True)


def build_rgat(lib, graph, hidden: int, first_batch, device):
    """MLPerf's R-GAT over ``lib`` (``torch_geometric.nn`` or ``gnnx.nn``) for ``graph``'s
    classes, its lazy widths set by ``first_batch``."""
    model = RGAT(lib, graph.metadata(), hidden, int(graph["paper"].y.max()) + 1).to(device)
    materialise(model, first_batch)
    return model


def training_step(step_model, params, trim: bool, amp: bool = False):
    optimizer = torch.optim.Adam(params, lr=0.001)
    device = next(iter(params)).device.type

    def step(batch, timed: bool = False):
        """One training step; ``timed``: returns each phase's host seconds (the device not waited for)."""
        marks = [time.perf_counter()]
        size = batch["paper"].batch_size
        optimizer.zero_grad()
        marks.append(time.perf_counter())
        counts = (batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict) if trim else ()
        with torch.autocast(device, dtype=torch.bfloat16, enabled=amp):  # bf16 needs no loss scaling
            out = step_model(batch.x_dict, batch.edge_index_dict, *counts)[:size]
            marks.append(time.perf_counter())
            loss = F.cross_entropy(out, batch["paper"].y[:size])
        marks.append(time.perf_counter())
        loss.backward()
        marks.append(time.perf_counter())
        optimizer.step()
        marks.append(time.perf_counter())
        if timed:
            return {name: b - a for name, a, b in zip(("zero_grad", "forward", "loss", "backward", "optimizer"),
                                                      marks, marks[1:])}
        return None

    return step


def time_training(step, batches, device, warmup: int, second_pass: bool = False) -> Tuple[float, float]:
    """Seconds per step over the batches after the first ``warmup``; with ``second_pass``, over
    every batch after one untimed pass over all of them (the steady state of a long run: every
    compile and capture done). Also the seconds per step of the warm-up (compiles and captures)."""
    started = time.perf_counter()
    for batch in batches if second_pass else batches[:warmup]:
        step(batch)
    sync(device)
    warm_up = (time.perf_counter() - started) / (len(batches) if second_pass else warmup)
    if second_pass:
        print(f"  first pass {warm_up * 1e3:.1f} ms/step (compiles and captures included)", flush=True)
    timed = batches if second_pass else batches[warmup:]
    started = time.perf_counter()
    for batch in timed:
        step(batch)
    sync(device)
    return (time.perf_counter() - started) / len(timed), warm_up


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--configs", nargs="+", default=["pyg eager", "pyg compiled", "gnnx eager", "gnnx.compile"])
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--profile", action="store_true", help="top CUDA kernels per row to rgat_profile.txt")
    parser.add_argument("--tf32", action="store_true", help="TF32 matrix products in every row")
    parser.add_argument("--amp", action="store_true", help="bf16 autocast around every row's forward and loss")
    parser.add_argument("--second-pass", action="store_true",
                        help="time a second pass over all batches after an untimed first (steady state)")
    args = parser.parse_args()
    if args.tf32:
        torch.set_float32_matmul_precision("high")
    import torch_geometric.nn as pyg_nn

    device = args.device
    graph = hetero_benchmark_graph(scale=args.scale, num_features=128).to(device)
    loader = seeds_loader(graph, args.batch_size)
    sync(device)
    started = time.perf_counter()
    batches = [b for _, b in zip(range(args.batches + args.warmup), loader)]
    sync(device)
    sampling = (time.perf_counter() - started) / len(batches)
    sizes = {"nodes": sum(int(s.num_nodes) for _, s in batches[0].node_items()),
             "edges": sum(s.edge_index.size(1) for _, s in batches[0].edge_items())}
    print(f"graph {graph.num_nodes:,} nodes / {graph.num_edges:,} edges; batch ~{sizes['nodes']:,} nodes / "
          f"{sizes['edges']:,} edges; sampling {sampling * 1e3:.1f} ms/batch", flush=True)
    static_batches = padded_per_hop(batches) if any("static" in c for c in args.configs) else []
    torch.manual_seed(0)
    pyg_model = build_rgat(pyg_nn, graph, args.hidden, batches[0], device)
    results, graphs, profiles, captures, warm_ups = {}, {}, [], {}, {}
    for config in args.configs:
        torch._dynamo.reset()
        torch._dynamo.utils.counters.clear()
        # default: grouped on CUDA; "(per relation)" / "(grouped)" force it
        gnnx.nn.hetero_gat.ENABLED = False if "per relation" in config else True if "grouped" in config else None
        if config.startswith("pyg"):
            model = pyg_model
            step_model = model
            if config.startswith("pyg compiled"):
                step_model = torch.compile(model, **compile_options(config))
        else:
            # "gnnx eager (reference attention)": the plain-ATen attention instead of the fused kernel
            gnnx.ops.dispatch.FUSED_ATTENTION = "reference attention" not in config
            # "(aten backward)": gnnx.ops.project's backward as cuBLAS products (no zero-row skipping)
            gnnx.ops.dispatch.SKIP_ZERO_GRAD_ROWS = False if "aten backward" in config else None
            # "(separate dst scores)": each destination type's scores as a product of their own
            gnnx.nn.hetero_gat.SHARED_DST_SCORES = "separate dst scores" not in config
            # "(node tables)": each node type's product over all its rows and relations (the default
            # before session 23); the default projects only the (node, relation) pairs the edges use
            gnnx.nn.hetero_gat.COMPACT_ROWS = False if "node tables" in config else None
            # "(no skip)": the compact rows' backward without its zero-gradient skipping (session 24)
            if gnnx.ops.grouped_projection._KERNELS is not None:
                gnnx.ops.grouped_projection._KERNELS.CONFIG["skip_zero_grad"] = "no skip" not in config
            model = build_rgat(gnnx.nn, graph, args.hidden, batches[0], device)
            model.load_state_dict(pyg_model.state_dict())  # PyG's keys: the same model
            step_model = gnnx.compile(model, **compile_options(config)) if config.startswith("gnnx.compile") else model
        model.train()
        step = training_step(step_model, list(model.parameters()), "trimmed" in config, args.amp)
        try:
            seconds, warm_ups[config] = time_training(step, static_batches if "static" in config else batches, device,
                                                      args.warmup, args.second_pass)
        except Exception:
            # the whole first error (a failed CUDA-graph capture makes every later step fail with another)
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "rgat_error.txt"), "w") as f:
                f.write(f"==== {config}\n{traceback.format_exc()}")
            raise
        if getattr(step_model, "cuda_graph_error", None) is not None:  # ran uncaptured: keep why
            os.makedirs(args.out, exist_ok=True)
            with open(os.path.join(args.out, "rgat_capture_error.txt"), "a") as f:
                f.write(f"==== {config}\n{''.join(traceback.format_exception(step_model.cuda_graph_error))}")
        if getattr(step_model, "_hetero", None) is not None:
            captures[config] = step_model._hetero.captures
        results[config] = seconds
        if "compile" in config:
            graphs[config] = torch._dynamo.utils.counters["stats"]["unique_graphs"]
        print(f"{config:14s} {seconds * 1e3:8.1f} ms/step  {args.batch_size / seconds:10,.0f} seeds/s "
              f"graphs {graphs.get(config, '-')} captures {captures.get(config, '-')} "
              f"failed captures {getattr(step_model, 'capture_failures', '-')}", flush=True)
        if args.profile:
            profiles.append(f"==== {config}\n" + kernel_table(step, batches[-3:], device))
        # written after every row, so a run cut short keeps what it measured
        lines = write_report(args, graph, sizes, sampling, results, graphs, profiles, captures, warm_ups)
    print("\n".join(lines))


def compile_options(config: str) -> dict:
    if "cuda graphs" in config:
        return {"mode": "reduce-overhead", "dynamic": False}
    if "uncaptured" in config:  # gnnx.compile without its CUDA-graph replay
        return {"dynamic": True, "cuda_graphs": False}
    return {"dynamic": True}


def padded_per_hop(batches: list) -> list:
    """The batches padded to one layout: per type and hop the largest count (+1 spare row)."""
    first = batches[0]
    nodes = {t: [max(b[t].num_sampled_nodes[h] for b in batches) + 1 for h in range(len(s.num_sampled_nodes))]
             for t, s in first.node_items()}
    edges = {e: [max(b[e].num_sampled_edges[h] for b in batches) for h in range(len(s.num_sampled_edges))]
             for e, s in first.edge_items()}
    return [pad_hetero(b, nodes, edges) for b in batches]


def write_report(args, graph, sizes: dict, sampling: float, results: dict, graphs: dict, profiles: list,
                 captures: dict, warm_ups: dict) -> list:
    import torch_geometric

    device_name = torch.cuda.get_device_name() if args.device == "cuda" else "cpu"
    report = {"device": device_name, "torch": torch.__version__, "pyg": torch_geometric.__version__,
              "scale": args.scale, "graph": {"nodes": graph.num_nodes, "edges": graph.num_edges},
              "batch": sizes, "batch_size": args.batch_size, "sampling_ms": sampling * 1e3,
              "step_ms": {k: v * 1e3 for k, v in results.items()},
              "compiled_graphs": graphs, "cuda_graph_captures": captures,
              "warm_up_ms": {k: v * 1e3 for k, v in warm_ups.items()}, "tf32": args.tf32, "amp_bf16": args.amp,
              "timed": "second pass over every batch" if args.second_pass else f"batches after the first {args.warmup}"}
    precision = (", TF32 matrix products in every row" if args.tf32 else "") + (
        ", bf16 autocast in every row" if args.amp else "")
    lines = [f"# R-GAT training step, {device_name} (torch {torch.__version__}, PyG {torch_geometric.__version__})"
             f"{precision}",
             "", f"Graph {graph.num_nodes:,} nodes / {graph.num_edges:,} edges, 8 edge types; batches of "
             f"{args.batch_size} seeds, fan-outs [15, 10, 5] (~{sizes['nodes']:,} nodes / {sizes['edges']:,} "
             f"edges); 3 layers, hidden {args.hidden}, 4 heads. Sampling (gnnx, on the device): "
             f"{sampling * 1e3:.1f} ms/batch. Timed: {report['timed']}.", "",
             "| configuration | ms/step | seeds/s | vs PyG eager | vs PyG compiled | graphs compiled | CUDA graphs captured |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for config, seconds in results.items():
        # against PyG's row of the same mode where there is one ("pyg eager (trimmed)"), else the plain one
        mode = " (trimmed)" if "trimmed" in config else ""
        eager = results.get("pyg eager" + mode, results.get("pyg eager"))
        compiled = results.get("pyg compiled" + mode, results.get("pyg compiled"))
        lines.append(f"| {config} | {seconds * 1e3:.1f} | {args.batch_size / seconds:,.0f} | "
                     f"{eager / seconds if eager else float('nan'):.2f}x | "
                     f"{compiled / seconds if compiled else float('nan'):.2f}x | {graphs.get(config, '-')} | "
                     f"{captures.get(config, '-')} |")
    os.makedirs(args.out, exist_ok=True)
    name = "rgat" + ("_tf32" if args.tf32 else "") + ("_amp" if args.amp else "")
    with open(os.path.join(args.out, f"{name}.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, f"{name}.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    if profiles:
        with open(os.path.join(args.out, f"{name}_profile.txt"), "w") as f:
            f.write("\n".join(profiles))
    return lines


def kernel_table(step, batches, device: str, rows: int = int(os.environ.get("PROFILE_ROWS", 25))) -> str:
    """The top kernels (by device time) of ``step`` over ``batches``, from torch.profiler."""
    activities = [torch.profiler.ProfilerActivity.CPU]
    if device == "cuda":
        activities.append(torch.profiler.ProfilerActivity.CUDA)
    with torch.profiler.profile(activities=activities) as profile:
        for batch in batches:
            step(batch)
        sync(device)
    sort = os.environ.get("PROFILE_SORT", "cuda_time_total" if device == "cuda" else "cpu_time_total")
    return profile.key_averages().table(sort_by=sort, row_limit=rows, max_name_column_width=70)


if __name__ == "__main__":
    main()
