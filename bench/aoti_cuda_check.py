"""AOTInductor CUDA packages with the gnnx Triton kernels inside, run from Python and from C++
(device run, not CI). For a GCN (SpMM kernel) and a GAT (fused attention kernel):

1. export with dynamic node/edge counts and compile a CUDA package (``gnnx.export.compile_package``);
2. load it in a fresh process and compare with eager on a graph of another size;
3. build ``cpp/`` with CMake against the installed torch and run the package from C++ on the
   same graph (``gnnx_run`` moves inputs to the GPU when the package is a CUDA one).

Each load runs in a subprocess with a time limit (an earlier image hung or segfaulted
loading any CUDA package). Writes $OUT/aoti_cuda.json.
Usage: python bench/aoti_cuda_check.py            (driver)
       python bench/aoti_cuda_check.py load NAME  (one load, used by the driver)
"""
import json
import os
import subprocess
import sys
import time

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
WORK = "/tmp/aoti_cuda"
OUT = os.environ.get("OUT", "/tmp")


def models():
    from gnnx.nn import GAT, GCN

    torch.manual_seed(0)
    return {"gcn": GCN(16, 32, 2, 8), "gat": GAT(16, 32, 2, 8, heads=4)}


def graph(n, e, seed):
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, 16, generator=gen), torch.randint(n, (2, e), generator=gen)


def load(name):
    """Fresh process: load the package, run on the check graph, compare with the saved eager output."""
    import faulthandler

    faulthandler.enable()
    faulthandler.dump_traceback_later(150, exit=True)
    from gnnx.export import load_package

    x, ei = (torch.from_numpy(np.load(f"{WORK}/{name}_{k}.npy")).cuda() for k in ("x", "edge_index"))
    start = time.time()
    runner = load_package(f"{WORK}/{name}.pt2")
    loaded = time.time() - start
    with torch.no_grad():
        out = runner(x, ei)
    out = out[0] if isinstance(out, (list, tuple)) else out
    ref = np.load(f"{WORK}/{name}_ref.npy")
    print(json.dumps({"load_s": loaded, "max_abs_diff": float(np.abs(out.cpu().numpy() - ref).max())}))


def main():
    import gnnx.export

    os.makedirs(WORK, exist_ok=True)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "models": {}}
    for name, model in models().items():
        row = report["models"][name] = {}
        model = model.cuda().eval()
        x, ei = graph(40, 160, 0)
        start = time.time()
        try:
            ep = gnnx.export.export(model, (x.cuda(), ei.cuda()))
            row["export_ops"] = sorted({str(n.target) for n in ep.graph.nodes
                                        if "gnnx" in str(n.target) or "triton" in str(n.target)})
            gnnx.export.compile_package(ep, f"{WORK}/{name}.pt2", device="cuda")
            row["compile_s"] = time.time() - start
        except Exception as exc:  # noqa: BLE001
            row["compile_error"] = repr(exc)[:500]
            continue
        cx, cei = graph(3000, 20000, 1)  # another size than the export example
        with torch.no_grad():
            ref = model(cx.cuda(), cei.cuda()).cpu().numpy()
        for key, value in (("x", cx.numpy()), ("edge_index", cei.numpy()), ("ref", ref)):
            np.save(f"{WORK}/{name}_{key}.npy", value)
        proc = subprocess.run([sys.executable, __file__, "load", name], capture_output=True, text=True, timeout=200)
        row["python_load"] = {"rc": proc.returncode, "tail": (proc.stdout + proc.stderr)[-800:]}
        if proc.returncode == 0:
            row["python_load"].update(json.loads(proc.stdout.strip().splitlines()[-1]))
        print(name, row, flush=True)
    # C++: build the runner once, run each package.
    build = f"{WORK}/cpp-build"
    try:
        prefix = torch.utils.cmake_prefix_path
        subprocess.run(["cmake", "-S", f"{ROOT}/cpp", "-B", build, f"-DCMAKE_PREFIX_PATH={prefix}",
                        "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True, timeout=200)
        subprocess.run(["cmake", "--build", build, "-j8"], check=True, capture_output=True, timeout=300)
        report["cpp_build"] = "ok"
    except Exception as exc:  # noqa: BLE001
        report["cpp_build"] = repr(exc)[:300] + getattr(exc, "stderr", b"")[-500:].decode(errors="ignore") \
            if isinstance(getattr(exc, "stderr", None), bytes) else repr(exc)[:800]
    for name, row in report["models"].items():
        if report["cpp_build"] != "ok" or "compile_error" in row:
            continue
        out = f"{WORK}/{name}_cpp_out.npy"
        try:
            proc = subprocess.run([f"{build}/gnnx_run", f"{WORK}/{name}.pt2", out, f"{WORK}/{name}_x.npy",
                                   f"{WORK}/{name}_edge_index.npy"], capture_output=True, text=True, timeout=200)
            row["cpp"] = {"rc": proc.returncode, "tail": (proc.stdout + proc.stderr)[-500:]}
            if proc.returncode == 0:
                diff = np.abs(np.load(out) - np.load(f"{WORK}/{name}_ref.npy")).max()
                row["cpp"]["max_abs_diff"] = float(diff)
        except subprocess.TimeoutExpired:
            row["cpp"] = {"rc": "timeout (200 s)"}
        print(name, "cpp", row.get("cpp"), flush=True)
    with open(os.path.join(OUT, "aoti_cuda.json"), "w") as f:
        json.dump(report, f, indent=2)


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "load":
        load(sys.argv[2])
    else:
        main()
