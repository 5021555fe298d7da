"""A/B of the tiled kNN kernel (issue #17): gnnx.ops.triton_knn over launch shapes, against
an earlier version of that file (``--before``, loaded under other op names; e.g.
``git show 9bc5ed0:gnnx/ops/triton_knn.py > /tmp/before.py``, the kernel before the chunked
box tests), on GravNet's calorimeter spaces and uniform points; answers checked equal.
Usage: python bench/knn_kernel_compare.py [--before FILE] [--out DIR]"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
import knn_kernel_stats  # noqa: E402
from calorimeter_gravnet import HitClusterer  # noqa: E402
from calorimeter_latency import event  # noqa: E402

import gnnx.ops.triton_knn as v2  # noqa: E402


def timed(fn, repeats=20):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results")
    parser.add_argument("--before", help="an earlier gnnx/ops/triton_knn.py to time as 'before'")
    args = parser.parse_args()
    v1 = None
    if args.before:
        with open(args.before) as f:
            v1 = knn_kernel_stats.load_copy(f.read(), "knn_before")
    torch.manual_seed(0)
    model = HitClusterer().eval().cuda()
    cases = {}
    with torch.no_grad():
        x = event(50_000).cuda()
        cases["calorimeter 50k detector 3-D k=8"] = (x[:, :3].contiguous(), 8, None)
        cases["calorimeter 50k layer-1 4-D k=12"] = (model.g1.lin_s(x).contiguous(), 12, None)
        h = torch.nn.functional.elu(model.g1(x))
        cases["calorimeter 50k layer-2 4-D k=12"] = (model.g2.lin_s(h).contiguous(), 12, None)
        cases["uniform 100k 3-D k=16"] = (torch.rand(100_000, 3, device="cuda"), 16, None)
        p = torch.rand(1_000_000, 3, device="cuda")
        cases["uniform 1M 3-D k=16, 4 clouds"] = (p, 16, torch.arange(4, device="cuda").repeat_interleave(250_000))
        cases["uniform 1M 3-D k=16, one cloud"] = (p, 16, None)
        cases["uniform 10k 3-D k=16"] = (p[:10_000].contiguous(), 16, None)
    shapes = [(16, 128, 64, 2), (4, 64, 64, 1), (8, 64, 64, 1), (4, 32, 64, 1), (2, 64, 64, 1), (2, 32, 64, 1),
              (4, 64, 32, 1), (4, 128, 64, 1), (8, 64, 32, 1)]
    counted = [(4, 64, 64, 1)]
    default = v2.knn_config
    rows = {}
    for name, (pts, k, batch) in cases.items():
        reference = v1 or v2
        ref_v, ref_i = reference.nearest(pts, pts, k, batch, batch, False, True)
        row = {"before": timed(lambda: v1.nearest(pts, pts, k, batch, batch, False, True))} if v1 else {}
        for bm, bn, chunk, warps in shapes:
            v2.knn_config = lambda d, kk, c={"BLOCK_M": bm, "BLOCK_N": bn, "CHUNK": chunk, "num_warps": warps}: c
            val, idx = v2.nearest(pts, pts, k, batch, batch, False, True)
            same = bool(torch.equal(idx, ref_i) and torch.equal(val, ref_v))
            row[f"{bm}x{bn} chunk {chunk} w{warps}"] = timed(lambda: v2.nearest(pts, pts, k, batch, batch, False, True))
            if not same:
                row[f"{bm}x{bn} chunk {chunk} w{warps} DIFFERS"] = True
            if (bm, bn, chunk, warps) in counted:
                row[f"{bm}x{bn} chunk {chunk} w{warps} counts"] = knn_kernel_stats.stats(pts, k, batch)
        v2.knn_config = default
        rows[name] = row
        print(name, flush=True)
        for key, value in row.items():
            print("  ", key, {a: round(b, 2) for a, b in value.items()} if isinstance(value, dict) else
                  (round(value, 3) if isinstance(value, float) else value), flush=True)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "knn_kernel_compare.json"), "w") as f:
        json.dump({"device": torch.cuda.get_device_name(), "torch": torch.__version__, "ms": rows}, f, indent=1)


if __name__ == "__main__":
    main()
