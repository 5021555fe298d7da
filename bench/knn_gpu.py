"""kNN graph construction on the GPU: the blocked eager search against one distance matrix,
and its time and peak memory as the number of points grows (run on the lent GPU machine).

Writes $OUT/knn_gpu.json and prints a table. The blocked search keeps memory at
O(block + N k) where one matrix would need N^2 floats (4 TB at 1M points).
"""
import json
import os
import time

import torch

import gnnx.ops.neighbors as neighbors
from gnnx.ops import knn_graph

DEV = "cuda"
rows = []
gen = torch.Generator(device=DEV).manual_seed(0)
small = torch.rand(20000, 3, device=DEV, generator=gen)
batch = torch.arange(4, device=DEV).repeat_interleave(5000)
saved = neighbors.BLOCK_ELEMENTS
neighbors.BLOCK_ELEMENTS = 1 << 40  # force one matrix
one = knn_graph(small, 16, batch)
neighbors.BLOCK_ELEMENTS = saved
blocked = knn_graph(small, 16, batch)
same = bool(torch.equal(one, blocked))
cpu = knn_graph(small.cpu(), 16, batch.cpu())
d = lambda e, p: (p[e[0]] - p[e[1]]).norm(dim=-1)  # noqa: E731
cpu_gap = float((d(cpu, small.cpu()) - d(blocked.cpu(), small.cpu())).abs().max())
print(f"blocked == one matrix on CUDA: {same}; neighbour distances CUDA vs CPU max |diff| {cpu_gap:.2e}")
for n in (10_000, 100_000, 1_000_000):
    x = torch.rand(n, 3, device=DEV, generator=gen)
    knn_graph(x[:1000], 16)
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    t0 = time.perf_counter()
    edges = knn_graph(x, 16)
    torch.cuda.synchronize()
    seconds = time.perf_counter() - t0
    peak = (torch.cuda.max_memory_allocated() - base) / 2**20
    rows.append({"points": n, "k": 16, "seconds": seconds, "peak_extra_MiB": peak, "edges": edges.size(1),
                 "one_matrix_would_need_MiB": n * n * 4 / 2**20})
    print(f"N={n:>9,}  k=16  {seconds*1e3:9.1f} ms  peak extra {peak:9.1f} MiB  "
          f"(one N x N float matrix: {n*n*4/2**20:,.0f} MiB)", flush=True)
out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "blocked_equals_one_matrix": same,
       "cuda_vs_cpu_neighbour_distance_max_abs_diff": cpu_gap, "block_elements": saved, "runs": rows}
with open(os.path.join(os.environ.get("OUT", "/tmp"), "knn_gpu.json"), "w") as f:
    json.dump(out, f, indent=2)
