"""Where a GravNet calorimeter event's GPU time goes (issue #17: 50,000 hits <= 5 ms).

The model of examples/calorimeter_gravnet.py, untrained, one event of ``--hits`` hits
(bench/calorimeter_latency.py's generator): the median latency of eager and
``gnnx.compile`` calls, the top CUDA kernels of each (torch.profiler), and the kNN searches
alone, on the event's own points (detector space, 3-D) and on the layers' learned 4-D
spaces. Usage: python bench/profile_calorimeter.py [--hits 50000] [--out DIR]
"""
from __future__ import annotations

import argparse
import json
import os
import sys

import torch
from torch.profiler import ProfilerActivity, profile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))
from calorimeter_gravnet import HitClusterer, K  # noqa: E402
from calorimeter_latency import event, latency  # noqa: E402

import gnnx  # noqa: E402
from gnnx.ops import knn_graph  # noqa: E402


def top_kernels(fn, x, rows: int = 15) -> str:
    for _ in range(3):
        fn(x)
    torch.cuda.synchronize()
    with profile(activities=[ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            fn(x)
        torch.cuda.synchronize()
    return prof.key_averages().table(sort_by="self_cuda_time_total", row_limit=rows, max_name_column_width=70)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--hits", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    torch.manual_seed(0)
    model = HitClusterer().eval().cuda()
    x = event(args.hits).cuda()
    result = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "hits": args.hits, "ms": {}}
    report = []
    with torch.no_grad():
        spaces = {"detector 3-D, k=%d" % K: (x[:, :3].contiguous(), K),
                  "layer 1 learned 4-D, k=12": (model.g1.lin_s(x).contiguous(), 12)}
        h1 = torch.nn.functional.elu(model.g1(x))
        spaces["layer 2 learned 4-D, k=12"] = (model.g2.lin_s(h1).contiguous(), 12)
        for name, (points, k) in spaces.items():
            ms = latency(lambda p, k=k: knn_graph(p, k), points, "cuda", args.repeats)
            result["ms"][f"knn_graph {name}"] = ms
            report.append(f"knn_graph {name}: {ms:.2f} ms")
        compiled = gnnx.compile(model)
        for name, fn in (("eager", model), ("gnnx.compile", compiled)):
            for _ in range(3):
                fn(x)
            ms = latency(fn, x, "cuda", args.repeats)
            result["ms"][name] = ms
            report.append(f"== {name}: {ms:.2f} ms per event\n{top_kernels(fn, x)}")
    text = f"# GravNet event of {args.hits:,} hits, {result['device']}, torch {torch.__version__}\n\n" + "\n".join(report)
    print(text)
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "calorimeter_profile.json"), "w") as f:
        json.dump(result, f, indent=1)
    with open(os.path.join(args.out, "calorimeter_profile.txt"), "w") as f:
        f.write(text + "\n")


if __name__ == "__main__":
    main()
