"""Device time of each matrix product of one gnnx.compile R-GAT training step, by input shapes and
kernel, then the step's top kernels. ``TRIM=1``: the trimmed model (``trim_to_layer``), run without
``gnnx.compile``'s CUDA-graph replay so the profiler sees each kernel; ``KERNELS``: how many to list."""
import collections
import os
import sys

import torch

sys.path.insert(0, "bench")
from rgat import build_rgat, seeds_loader, training_step  # noqa: E402

import gnnx  # noqa: E402
from gnnx.datasets import hetero_benchmark_graph  # noqa: E402

dev = "cuda"
graph = hetero_benchmark_graph(scale=1.0, num_features=128).to(dev)
batches = [b for _, b in zip(range(6), seeds_loader(graph))]
torch.manual_seed(0)
gm = build_rgat(gnnx.nn, graph, 128, batches[0], dev)
trim = os.environ.get("TRIM") == "1"
step = training_step(gnnx.compile(gm, cuda_graphs=not trim), list(gm.parameters()), trim=trim)
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
name = "mm_shapes_trimmed.txt" if trim else "mm_shapes.txt"
with open(os.path.join(os.environ.get("OUT", "."), name), "w") as f:
    for (name, shapes, kernel), us in rows.most_common():
        total += us
        f.write(f"{us:9.1f} us  {name} {shapes}  {kernel}\n")
    f.write(f"total mm {total:.1f} us in one step\n")
    kern = [e for e in prof.key_averages() if e.device_type == torch.autograd.DeviceType.CUDA]
    f.write(f"total kernels {sum(e.self_device_time_total for e in kern):.1f} us in one step\n")
    for e in sorted(kern, key=lambda e: -e.self_device_time_total)[:int(os.environ.get("KERNELS", 60))]:
        f.write(f"{e.self_device_time_total:9.1f} us {e.count:3d}x  {e.key[:160]}\n")
print(open(os.path.join(os.environ.get("OUT", "."), name)).read()[:3000])
