"""Where the R-GAT training step's time goes: host (Python, launches) or device (kernels).

For each configuration of ``bench/rgat.py``'s model and batches (one process, the same
pre-sampled batches): the wall time per step (steps run back to back, one synchronisation at
the end), the host time per step (time until ``step()`` returns, without synchronising: the
time to queue the step's work, when nothing in it waits for the device), the device time per
step (the kernels' summed durations under ``torch.profiler``), the kernels launched per step,
and the synchronisations one step makes (``torch.cuda.set_sync_debug_mode``). A step is
host-bound when its host time is close to its wall time and above its device time.

Configurations: those of ``bench/rgat.py`` plus ``(cpp wrapper)`` (Inductor's C++ wrapper
instead of the Python one, ``options={"cpp_wrapper": True}``); ``(uncaptured)`` runs
``gnnx.compile`` without its CUDA-graph replay.
Writes ``rgat_host_time.json`` and ``.md`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from rgat import build_rgat, seeds_loader, training_step  # noqa: E402

import gnnx  # noqa: E402
from gnnx.datasets import hetero_benchmark_graph  # noqa: E402


def measure(step, batches, warmup: int) -> dict:
    """``warmup`` < 0: one untimed pass over every batch first (every compile and capture
    done), then all of them timed."""
    for batch in batches[:warmup] if warmup >= 0 else batches:
        step(batch)
    warmup = max(warmup, 0)
    torch.cuda.synchronize()
    host = []
    started = time.perf_counter()
    for batch in batches[warmup:]:
        t0 = time.perf_counter()
        step(batch)
        host.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    wall = (time.perf_counter() - started) / len(batches[warmup:])
    # host time with the device idle at the start of each step (no queue to hide behind)
    alone = []
    for batch in batches[warmup:warmup + 5]:
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        step(batch)
        alone.append(time.perf_counter() - t0)
    torch.cuda.synchronize()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            step(batches[-1])
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    syncs = [str(w.message).splitlines()[0] for w in caught if "synchroniz" in str(w.message)]
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as profile:
        for batch in batches[-3:]:
            step(batch)
        torch.cuda.synchronize()
    kernels = [e for e in profile.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    device = sum(e.device_time for e in kernels) / 3 if kernels else float("nan")
    busy, span = busy_and_span(kernels)
    return {"device_busy_ms": busy / 3e3, "device_span_ms": span / 3e3, "phases_ms": phases(step, batches[-5:]),
            "wall_ms": wall * 1e3, "host_ms_queued": 1e3 * sum(host) / len(host),
            "host_ms_idle_device": 1e3 * sorted(alone)[len(alone) // 2], "device_ms": device / 1e3,
            "kernels_per_step": len(kernels) / 3, "syncs_per_step": len(syncs), "sync_examples": syncs[:5]}


def busy_and_span(kernels) -> tuple:
    """Microseconds the device ran at least one kernel (the union of the kernels' intervals)
    and from the first kernel's start to the last one's end."""
    intervals = sorted((e.time_range.start, e.time_range.end) for e in kernels)
    if not intervals:
        return float("nan"), float("nan")
    busy, (start, end) = 0.0, intervals[0]
    for s, e in intervals[1:]:
        if s > end:
            busy, start = busy + end - start, s
        end = max(end, e)
    busy += end - start
    return busy, max(e for _, e in intervals) - intervals[0][0]


def phases(step, batches) -> dict:
    """Host milliseconds per phase of ``step`` (``training_step``'s step called with ``timed=True``),
    device queued, the median over ``batches``."""
    times: dict = {}
    for batch in batches:
        for name, seconds in step(batch, timed=True).items():
            times.setdefault(name, []).append(seconds * 1e3)
    torch.cuda.synchronize()
    return {name: sorted(values)[len(values) // 2] for name, values in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--warmup", type=int, default=5, help="-1: an untimed pass over every batch first")
    parser.add_argument("--configs", nargs="+", default=["pyg compiled", "gnnx.compile", "gnnx.compile (cpp wrapper)"])
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    import torch_geometric
    import torch_geometric.nn as pyg_nn

    graph = hetero_benchmark_graph(scale=args.scale, num_features=128).to("cuda")
    loader = seeds_loader(graph)
    batches = [b for _, b in zip(range(args.batches + args.warmup), loader)]
    torch.manual_seed(0)
    pyg_model = build_rgat(pyg_nn, graph, 128, batches[0], "cuda")
    results = {}
    for config in args.configs:
        torch._dynamo.reset()
        options = {"options": {"cpp_wrapper": True}} if "cpp wrapper" in config else {}
        if config.startswith("pyg"):
            model = pyg_model
            step_model = torch.compile(model, dynamic=True, **options) if "compiled" in config else model
        else:
            model = build_rgat(gnnx.nn, graph, 128, batches[0], "cuda")
            model.load_state_dict(pyg_model.state_dict())
            # "(uncaptured)": gnnx.compile without its CUDA-graph replay
            step_model = gnnx.compile(model, cuda_graphs="uncaptured" not in config, **options) \
                if config.startswith("gnnx.compile") else model
        model.train()
        step = training_step(step_model, list(model.parameters()), "trimmed" in config)
        try:
            results[config] = measure(step, batches, args.warmup)
        except Exception as error:  # noqa: BLE001 - a configuration that fails is reported, not fatal
            results[config] = {"error": f"{type(error).__name__}: {str(error)[:300]}"}
        print(config, json.dumps(results[config]), flush=True)
        write(args, results, torch_geometric.__version__)


def write(args, results: dict, pyg_version: str) -> None:
    name = torch.cuda.get_device_name()
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "rgat_host_time.json"), "w") as f:
        json.dump({"device": name, "torch": torch.__version__, "pyg": pyg_version, "results": results}, f, indent=1)
    lines = [f"# R-GAT training step: host and device time, {name} (torch {torch.__version__}, PyG {pyg_version})",
             "", "`bench/rgat_host_time.py`: wall = steps back to back; host = time to queue one step (device "
             "busy / idle at the step's start); device = summed kernel time.", "",
             "| configuration | wall ms | host ms (queued) | host ms (idle device) | device ms | device busy ms | "
             "device span ms | kernels | syncs | host ms per phase (queued) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---|"]
    for config, r in results.items():
        if "error" in r:
            lines.append(f"| {config} | {r['error']} | | | | | |")
            continue
        lines.append(f"| {config} | {r['wall_ms']:.1f} | {r['host_ms_queued']:.1f} | {r['host_ms_idle_device']:.1f} | "
                     f"{r['device_ms']:.1f} | {r['device_busy_ms']:.1f} | {r['device_span_ms']:.1f} | "
                     f"{r['kernels_per_step']:.0f} | {r['syncs_per_step']} | "
                     + ", ".join(f"{k} {v:.1f}" for k, v in r["phases_ms"].items()) + " |")
    with open(os.path.join(args.out, "rgat_host_time.md"), "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
