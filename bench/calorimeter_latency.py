"""GravNet calorimeter inference per event on the GPU and the CPU (issue #17's events).

The model of examples/calorimeter_gravnet.py (two GravNetConv layers, k = 12, and edge
scores over the detector-space kNN graph), untrained (latency does not depend on the
weights), on events of 10^4 to 10^5 hits spread over a calorimeter face. Per event:
eager and ``gnnx.compile`` on CUDA, eager on the CPU (all of the machine's cores), median
of repeated calls, ``torch.no_grad``. Writes ``calorimeter_latency.{json,md}`` to ``--out``.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from calorimeter_gravnet import HitClusterer, features  # noqa: E402

import gnnx  # noqa: E402


def event(num_hits: int, seed: int = 0) -> torch.Tensor:
    """Hits (x, y, layer, energy) of showers spread over a face that grows with the event."""
    gen = torch.Generator().manual_seed(seed)
    side = 8.0 * (num_hits / 1000) ** 0.5
    showers = max(1, num_hits // 200)
    centres = torch.rand(showers, 2, generator=gen) * side
    owner = torch.randint(showers, (num_hits,), generator=gen)
    layer = torch.randint(8, (num_hits,), generator=gen).float()
    xy = centres[owner] + (0.15 + 0.08 * layer).unsqueeze(1) * torch.randn(num_hits, 2, generator=gen)
    energy = torch.rand(num_hits, generator=gen) * 5.0
    return features(torch.cat([xy, layer.unsqueeze(1), energy.unsqueeze(1)], 1))


def latency(fn, x, device, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        if device == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        fn(x)
        if device == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1e3


def package_latency(model, hits, repeats: int) -> dict:
    """Per event size, the median latency of an AOTInductor CUDA package of ``model`` (dynamic
    number of hits) run by cpp/gnnx_run (GNNX_RUN_REPEAT) and loaded in this process by
    ``gnnx.export.package.aoti_load`` (torch's loader alone crashed on the lent image until
    session 28: bench/aoti_cuda_gdb_probe.sh), with the largest differences from eager."""
    import subprocess
    import tempfile

    import numpy as np
    from calorimeter_gravnet import MIN_HITS

    from gnnx.export.package import aoti_load

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    work = tempfile.mkdtemp(prefix="calorimeter_pkg_")
    example = event(2_000).cuda()
    program = torch.export.export(model, (example,),
                                  dynamic_shapes=({0: torch.export.Dim("num_hits", min=MIN_HITS)},))
    path = torch._inductor.aoti_compile_and_package(program, package_path=f"{work}/gravnet.pt2")
    build = f"{work}/cpp-build"
    subprocess.run(["cmake", "-S", f"{root}/cpp", "-B", build, f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True, timeout=300)
    subprocess.run(["cmake", "--build", build, "-j8"], check=True, capture_output=True, timeout=300)
    result = {}
    runner = aoti_load(path)
    for n in hits:
        np.save(f"{work}/x.npy", event(n).numpy())
        proc = subprocess.run([f"{build}/gnnx_run", path, f"{work}/out.npy", f"{work}/x.npy"], capture_output=True,
                              text=True, timeout=300, env={**os.environ, "GNNX_RUN_REPEAT": str(repeats)})
        line = [ln for ln in proc.stdout.splitlines() if "median latency" in ln]
        result[n] = {"cuda package (C++)": float(line[0].split("latency ")[1].split(" ms")[0]) if line else float("nan")}
        x = event(n).cuda()
        (edges, scores), (want_edges, want_scores) = runner(x), model(x)
        for _ in range(3):
            runner(x)
        result[n]["cuda package (Python)"] = latency(runner, x, "cuda", repeats)
        result[n]["package edges equal eager"] = bool(torch.equal(edges, want_edges))
        result[n]["package scores max abs diff"] = float((scores - want_scores).abs().max())
        print(n, "package", result[n], proc.stderr[-300:], flush=True)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, nargs="+", default=[10_000, 50_000, 100_000])
    parser.add_argument("--cpu-hits", type=int, nargs="+", default=[10_000, 50_000])
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--package", action="store_true",
                        help="also an AOTInductor CUDA package, run by cpp/gnnx_run (built here with CMake) "
                        "and loaded in this process")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = HitClusterer().eval()
    rows = {}
    with torch.no_grad():
        if torch.cuda.is_available():
            gpu = HitClusterer().eval().cuda()
            gpu.load_state_dict(model.state_dict())
            compiled = gnnx.compile(gpu)
            for n in args.hits:
                x = event(n).cuda()
                for _ in range(3):
                    gpu(x), compiled(x)
                rows.setdefault(n, {})["cuda eager"] = latency(gpu, x, "cuda", args.repeats)
                rows[n]["cuda gnnx.compile"] = latency(compiled, x, "cuda", args.repeats)
                print(n, rows[n], flush=True)
            if args.package:
                for n, measured in package_latency(gpu, args.hits, args.repeats).items():
                    rows[n].update(measured)
        for n in args.cpu_hits:
            x = event(n)
            model(x)
            rows.setdefault(n, {})["cpu eager"] = latency(model, x, "cpu", max(3, args.repeats // 5))
            print(n, rows[n], flush=True)
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu only"
    lines = [f"# GravNet calorimeter inference per event ({device}; CPU: {os.cpu_count()} cores; "
             f"torch {torch.__version__})", "", "| hits | CUDA eager ms | CUDA gnnx.compile ms | CUDA package, C++ ms | "
             "CUDA package, Python ms | CPU eager ms | CPU / best GPU |", "|---:|---:|---:|---:|---:|---:|---:|"]
    nan = float("nan")
    for n, row in sorted(rows.items()):
        gpu_best = min([v for k, v in row.items() if k.startswith("cuda") and isinstance(v, float)], default=nan)
        cpu = row.get("cpu eager", nan)
        lines.append(f"| {n:,} | {row.get('cuda eager', nan):.2f} | {row.get('cuda gnnx.compile', nan):.2f} | "
                     f"{row.get('cuda package (C++)', nan):.2f} | {row.get('cuda package (Python)', nan):.2f} | "
                     f"{cpu:.1f} | {cpu / gpu_best:.0f}x |")
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "calorimeter_latency.json"), "w") as f:
        json.dump({"device": device, "cpu_cores": os.cpu_count(), "torch": torch.__version__, "ms": rows}, f, indent=1)
    with open(os.path.join(args.out, "calorimeter_latency.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
