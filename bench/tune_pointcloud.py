"""Launch shapes of the fused EdgeConv kernels (issue #17) on the GPU machine: one EdgeConv
layer of the seed graph (10,000 nodes, 200,000 edges, MLP [128, 64, 64]), forward and
forward+backward, eager, against the unfused path, for each launch shape of
triton_edge_mlp.CONFIG (the forward's edges per block, warps and stages; the backward's one-hot
chunk, warps and programs per SM)
and both precisions; GPU time per kernel from torch.profiler. The kNN kernel's launch shape has its own sweep
(bench/knn_kernel_compare.py). Writes $OUT/tune_pointcloud.json."""
import json
import os

import torch

import gnnx
from gnnx.benchmark.harness import cuda_event_ms, kernel_times_us
from gnnx.nn import MLP, EdgeConv
from gnnx.ops import dispatch, triton_edge_mlp

KERNELS = ("_messages_kernel", "_backward_kernel", "_spmm_kernel")


def time_ms(fn, repeats=20):
    return cuda_event_ms(fn, repeats)


results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "edge_mlp": []}
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
forward_shapes = [{"fwd_edges": e, "fwd_warps": w, "fwd_stages": st} for e, w, st in ((64, 4, 3), (64, 4, 1), (64, 4, 2))]
backward_shapes = [{"bwd_chunk": c, "bwd_warps": w, "bwd_programs_per_sm": p}
                   for c, w, p in ((32, 4, 4), (32, 2, 8), (32, 2, 4), (16, 4, 4), (64, 4, 4), (32, 8, 2))]
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    config = triton_edge_mlp.CONFIG
    default = dict(config)
    for change in forward_shapes + backward_shapes:
        config.update(default)
        config.update(change)
        try:
            row = {"config": dict(config, tf32=tf32), "fwd_ms": time_ms(fwd), "fwd_bwd_ms": time_ms(fwd_bwd),
                   "kernel_us": kernel_times_us(fwd_bwd, KERNELS)}
        except Exception as error:  # noqa: BLE001 (a shape the compiler refuses)
            row = {"config": dict(config, tf32=tf32), "error": str(error)[:200]}
        results["edge_mlp"].append(row)
        print(json.dumps(row), flush=True)
    config.update(default)
torch.backends.cuda.matmul.allow_tf32 = False
with open(os.path.join(os.environ.get("OUT", "/tmp"), "tune_pointcloud.json"), "w") as f:
    json.dump(results, f, indent=1)
