"""CUDA packages through the C++ loader from Python (issue #17; device run, not CI): the
calorimeter GravNet model (tiled kNN kernels inside) exported with a dynamic number of hits,
compiled to an AOTInductor CUDA package, run by ``gnnx.export.load_package_cpp`` (a
``gnnx_run --serve`` child process, the route ``gnnx serve --cpp-runner`` uses) and compared
with eager; also whether torch's Python loader still crashes on this image.
Writes $OUT/cuda_package_cpp_route.json."""
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "examples"))
sys.path.insert(0, os.path.join(ROOT, "bench"))
from calorimeter_gravnet import MIN_HITS, HitClusterer  # noqa: E402
from calorimeter_latency import event  # noqa: E402

import gnnx.export  # noqa: E402
from gnnx.export import load_package_cpp  # noqa: E402

work = tempfile.mkdtemp(prefix="cuda_cpp_route_")
report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__}
torch.manual_seed(0)
model = HitClusterer().eval().cuda()
program = gnnx.export.export(model, (event(2_000).cuda(),))
started = time.perf_counter()
path = gnnx.export.compile_package(program, f"{work}/gravnet.pt2", device="cuda", output_names=("edge_index", "score"))
report["compile_s"] = time.perf_counter() - started
probe = subprocess.run([sys.executable, "-c", f"import torch; torch._inductor.aoti_load_package({path!r}); print('ok')"],
                       capture_output=True, text=True, timeout=300)
report["python_loader_exit_status"] = probe.returncode
build = f"{work}/cpp-build"
subprocess.run(["cmake", "-S", f"{ROOT}/cpp", "-B", build, f"-DCMAKE_PREFIX_PATH={torch.utils.cmake_prefix_path}",
                "-DCMAKE_BUILD_TYPE=Release"], check=True, capture_output=True, timeout=300)
subprocess.run(["cmake", "--build", build, "-j8"], check=True, capture_output=True, timeout=300)
served = load_package_cpp(path, f"{build}/gnnx_run")
report["sizes"] = {}
for n in (MIN_HITS, 1_000, 10_000, 50_000):
    x = event(n)
    with torch.no_grad():
        edge_index, scores = model(x.cuda())
    got_edges, got_scores = served(x)
    times = []
    for _ in range(5):
        t0 = time.perf_counter()
        served(x)
        times.append((time.perf_counter() - t0) * 1e3)
    report["sizes"][n] = {"edges_equal": bool(torch.equal(got_edges, edge_index.cpu())),
                          "max_abs_score_diff": float((got_scores - scores.cpu()).abs().max()),
                          "median_ms_with_npy_io": statistics.median(times)}
    print(n, report["sizes"][n], flush=True)
served.close()
print(json.dumps(report, indent=1))
with open(os.path.join(os.environ.get("OUT", "/tmp"), "cuda_package_cpp_route.json"), "w") as f:
    json.dump(report, f, indent=1)
