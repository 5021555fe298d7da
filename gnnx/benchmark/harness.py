"""The timing harness of every benchmark: warm-up, timed repeats, environment, isolation,
JSON and markdown output.

Configurations that compile run in their own process where asked (:func:`run_isolated`):
Inductor's compile workers stay alive after compiling and slow every CPU timing that
follows them in the same process.
"""
from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterable, List, Optional

import torch


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(step: Callable[[], Any], device: str, steps: int, warmup: int = 5, repeats: int = 3) -> Dict[str, float]:
    """Run ``step`` ``warmup`` times, then ``repeats`` rounds of ``steps`` calls; returns the
    best and the median milliseconds per call over the rounds."""
    for _ in range(warmup):
        step()
    synchronize(device)
    rounds: List[float] = []
    for _ in range(repeats):
        start = time.perf_counter()
        for _ in range(steps):
            step()
        synchronize(device)
        rounds.append(1000 * (time.perf_counter() - start) / steps)
    return {"best_ms": min(rounds), "median_ms": statistics.median(rounds), "steps": steps, "repeats": repeats}


def cuda_event_ms(fn: Callable[[], Any], repeats: int = 20, rounds: int = 3) -> float:
    """Best milliseconds per call of ``fn`` on the GPU over ``rounds`` rounds of ``repeats``
    back-to-back calls, timed with CUDA events (after one warm-up call)."""
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(rounds):
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / repeats)
    return best


def kernel_times_us(step: Callable[[], Any], names: Iterable[str], repeats: int = 10) -> Dict[str, float]:
    """Mean GPU microseconds per launch of each named CUDA kernel over ``repeats`` calls of
    ``step`` (torch.profiler, after one warm-up call)."""
    from torch.profiler import ProfilerActivity, profile

    step()
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(repeats):
            step()
        torch.cuda.synchronize()
    names = set(names)
    return {e.key: round(e.self_device_time_total / e.count, 1) for e in prof.key_averages() if e.key in names}


def environment(device: str) -> Dict[str, Any]:
    """Device name and library versions, recorded with every result."""
    info: Dict[str, Any] = {"torch": torch.__version__, "python": platform.python_version(),
                            "threads": torch.get_num_threads()}
    if device.startswith("cuda"):
        info["device"] = torch.cuda.get_device_name()
    else:
        info["device"] = _cpu_name()
    for name in ("torch_geometric", "triton"):
        try:
            info[name] = __import__(name).__version__
        except ImportError:
            info[name] = None
    import gnnx

    info["gnnx"] = gnnx.__version__
    return info


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "cpu"


def run_isolated(module: str, args: List[str], timeout: float = 900) -> Dict[str, Any]:
    """``python -m module args...`` in a fresh process; its last stdout line is JSON."""
    proc = subprocess.run([sys.executable, "-m", module, *args], capture_output=True, text=True, timeout=timeout)
    lines = proc.stdout.strip().splitlines()
    try:
        return json.loads(lines[-1])
    except (IndexError, json.JSONDecodeError):
        return {"error": (proc.stderr or proc.stdout)[-800:]}


def run_table(module: str, models: List[str], modes: List[str], run_config: Callable[[str, str], Dict[str, Any]],
              one_args: List[str], isolate: bool) -> Dict[str, Dict[str, Any]]:
    """``{model: {mode: result}}``: each configuration in this process (``run_config``, after
    resetting Dynamo), or with ``isolate`` in its own (``python -m module *one_args --one
    MODEL MODE``, whose last stdout line is its JSON)."""
    import json

    table: Dict[str, Dict[str, Any]] = {}
    for name in models:
        row = table[name] = {}
        for mode in modes:
            if isolate:
                row[mode] = run_isolated(module, [*one_args, "--one", name, mode])
            else:
                torch._dynamo.reset()
                row[mode] = run_config(name, mode)
            print(name, mode, json.dumps(row[mode]), flush=True)
    return table


def report(out_dir: Optional[str], name: str, results: Dict[str, Any],
           render: Callable[[Dict[str, Any]], str]) -> Dict[str, Any]:
    """Print the rendered table and, with ``out_dir``, write ``name.json`` and ``name.md``."""
    markdown = render(results)
    print(markdown)
    if out_dir:
        write(out_dir, name, results, markdown)
    return results


def write(out_dir: str, name: str, results: Dict[str, Any], markdown: str) -> None:
    """``out_dir/name.json`` and ``out_dir/name.md``."""
    os.makedirs(out_dir, exist_ok=True)
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(results, f, indent=2)
    with open(os.path.join(out_dir, f"{name}.md"), "w") as f:
        f.write(markdown)


def ratio(numerator: Optional[float], denominator: Optional[float]) -> str:
    if not numerator or not denominator:
        return "-"
    return f"{numerator / denominator:.1f}x"
