"""Launch shapes of the point-cloud kernels (issue #17) on the GPU machine: the fused EdgeConv
(one EdgeConv layer of the seed graph: 10,000 nodes, 200,000 edges, MLP [128, 64, 64]; forward
and forward+backward against the unfused path) and the tiled kNN (50,000 points of a
GravNet-like 4-D space, k = 12, and 100,000 uniform 3-D points, k = 16). Writes
$OUT/tune_pointcloud.json."""
import itertools
import json
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import gnnx  # noqa: E402
from gnnx.nn import MLP, EdgeConv  # noqa: E402
from gnnx.ops import dispatch, triton_edge_mlp, triton_knn  # noqa: E402


def time_ms(fn, repeats=20):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    best = float("inf")
    for _ in range(3):
        start.record()
        for _ in range(repeats):
            fn()
        end.record()
        torch.cuda.synchronize()
        best = min(best, start.elapsed_time(end) / repeats)
    return best


results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "edge_mlp": [], "knn": []}
torch.manual_seed(0)
x = torch.randn(10_000, 64, device="cuda", requires_grad=True)
graph = gnnx.Graph(torch.randint(10_000, (2, 200_000), device="cuda"), 10_000)
layer = EdgeConv(MLP([128, 64, 64], norm=None)).cuda()


def fwd():
    with torch.no_grad():
        layer(x, graph)


def fwd_bwd():
    layer(x, graph).sum().backward()


dispatch.FUSED_EDGE_MLP = False
row = {"config": "unfused", "fwd_ms": time_ms(fwd), "fwd_bwd_ms": time_ms(fwd_bwd)}
results["edge_mlp"].append(row)
print(json.dumps(row), flush=True)
dispatch.FUSED_EDGE_MLP = True
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    for block_e, rows, warps in itertools.product((16, 32), (1, 4, 8), (2, 4, 8)):
        config = triton_edge_mlp.CONFIGS["tf32" if tf32 else "ieee"]
        config.update(BLOCK_E=block_e, ROWS=rows, num_warps=warps)
        try:
            row = {"config": dict(config, tf32=tf32), "fwd_ms": time_ms(fwd),
                   "fwd_bwd_ms": time_ms(fwd_bwd)}
        except Exception as error:  # noqa: BLE001 (a shape the compiler refuses)
            row = {"config": dict(config, tf32=tf32), "error": str(error)[:200]}
        results["edge_mlp"].append(row)
        print(json.dumps(row), flush=True)
torch.backends.cuda.matmul.allow_tf32 = False

from calorimeter_latency import event  # noqa: E402

space = event(50_000).cuda() @ torch.randn(4, 4, device="cuda")
uniform = torch.rand(100_000, 3, device="cuda")
default = dict(triton_knn.knn_config(4, 12))
for block_m, block_n, warps in itertools.product((16, 32, 64), (32, 64, 128), (2, 4, 8)):
    triton_knn.knn_config = lambda dims, k, c={"BLOCK_M": block_m, "BLOCK_N": block_n, "num_warps": warps}: c
    row = {"config": [block_m, block_n, warps],
           "gravnet_50k_4d_k12_ms": time_ms(lambda: triton_knn.nearest(space, space, 12, None, None, False, False), 5),
           "uniform_100k_3d_k16_ms": time_ms(lambda: triton_knn.nearest(uniform, uniform, 16, None, None, False, True), 5)}
    results["knn"].append(row)
    print(json.dumps(row), flush=True)
with open(os.path.join(os.environ.get("OUT", "/tmp"), "tune_pointcloud.json"), "w") as f:
    json.dump(results, f, indent=1)
