"""Per-kernel GPU time of one compiled forward+backward step (device run; for tuning)."""
import os
import sys

import torch

import gnnx
import gnnx.nn as gnn
from gnnx import transforms as T

N, E, F = 10_000, 200_000, 64
name = sys.argv[1] if len(sys.argv) > 1 else "GCN"
torch.manual_seed(0)
x = torch.randn(N, F, device="cuda")
raw = torch.randint(N, (2, E))
graph = (T.GCNNorm()(gnnx.Graph(raw, N)) if name == "GCN" else gnnx.Graph(raw, N)).to("cuda")
kwargs = {"normalize": False} if name == "GCN" else {}
model = getattr(gnn, name)(F, F, 3, F, **kwargs).cuda()
compiled = torch.compile(model, fullgraph=True)
w = graph.edge_weight


def step():
    out = compiled(x, graph, w) if name == "GCN" else compiled(x, graph)
    out.sum().backward()


for _ in range(5):
    step()
torch.cuda.synchronize()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
    for _ in range(10):
        step()
    torch.cuda.synchronize()
table = prof.key_averages().table(sort_by="self_device_time_total", row_limit=25, max_name_column_width=60)
print(name)
print(table)
with open(os.path.join(os.environ.get("OUT", "/tmp"), f"profile_{name}.txt"), "w") as f:
    f.write(table)
