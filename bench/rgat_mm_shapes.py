"""Device time of each matrix product of one gnnx.compile R-GAT training step, by input shapes and kernel."""
import collections
import os
import sys

import torch

sys.path.insert(0, "bench")
sys.path.insert(0, "examples")
import torch.nn.functional as F
from rgat_igbh import RGAT, materialise

import gnnx
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph

dev = "cuda"
graph = hetero_benchmark_graph(scale=1.0, num_features=128).to(dev)
loader = NeighborLoader(graph, num_neighbors=[15, 10, 5], input_nodes=("paper", graph["paper"].train_mask), batch_size=1024, shuffle=True)
batches = [b for _, b in zip(range(6), loader)]
classes = int(graph["paper"].y.max()) + 1
torch.manual_seed(0)
gm = RGAT(gnnx.nn, graph.metadata(), 128, classes).to(dev)
materialise(gm, batches[0])
opt = torch.optim.Adam(gm.parameters(), lr=1e-3)
call = gnnx.compile(gm)
def step(b):
    size = b["paper"].batch_size
    opt.zero_grad()
    out = call(b.x_dict, b.edge_index_dict)[:size]
    F.cross_entropy(out, b["paper"].y[:size]).backward()
    opt.step()
for b in batches[:5]:
    step(b)
torch.cuda.synchronize()
with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA, torch.profiler.ProfilerActivity.CPU], record_shapes=True) as prof:
    step(batches[5])
    torch.cuda.synchronize()
rows = collections.Counter()
for e in prof.events():
    if e.name in ("aten::mm", "aten::addmm", "aten::bmm"):
        for k in e.kernels:
            rows[(e.name, str(e.input_shapes)[:110], k.name[:70])] += k.duration
total = 0
with open(os.path.join(os.environ.get("OUT", "."), "mm_shapes.txt"), "w") as f:
    for (name, shapes, kernel), us in rows.most_common():
        total += us
        f.write(f"{us:9.1f} us  {name} {shapes}  {kernel}\n")
    f.write(f"total mm {total:.1f} us in one step\n")
    kern = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    for e in sorted(kern, key=lambda e:
        -e.self_device_time_total)[:60]:
        f.write(f"{e.self_device_time_total:9.1f} us {e.count:3d}x  {e.key[:160]}\n")
print(open(os.path.join(os.environ.get("OUT", "."), "mm_shapes.txt")).read()[:3000])
