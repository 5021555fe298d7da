"""Probe: where does an AOTInductor CUDA package of a gnnx model fail? (device run)"""
import faulthandler
import sys

import torch

faulthandler.enable()
sys.path.insert(0, "tests")
from torch.export import Dim  # noqa: E402

from gnnx.nn import GCN, GATConv, EdgeConv, SAGEConv  # noqa: E402
import cases  # noqa: E402

which = sys.argv[1]
dev = "cuda"
models = {
    "gcn": lambda: GCN(8, 16, 2, 4),
    "sage_max": lambda: SAGEConv(8, 16, aggr="max"),
    "gat": lambda: GATConv(8, 16, heads=2),
    "edgeconv": lambda: EdgeConv(cases.seq(16, 16)),
}
m = models[which]().to(dev).eval()
x, ei = torch.randn(10, 8, device=dev), torch.randint(10, (2, 30), device=dev)
ep = torch.export.export(m, (x, ei), dynamic_shapes=({0: Dim("n", min=2)}, {1: Dim("e", min=1)}))
print(which, "exported", flush=True)
path = torch._inductor.aoti_compile_and_package(ep, package_path=f"/tmp/{which}.pt2")
print(which, "compiled", flush=True)
r = torch._inductor.aoti_load_package(path)
print(which, "loaded", flush=True)
out = r(x, ei)
torch.cuda.synchronize()
print(which, "ran", float((out - m(x, ei)).abs().max()), flush=True)
