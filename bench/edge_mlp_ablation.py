"""Where the fused EdgeConv backward kernel spends its time (issue #17): registers, spills and
GPU time (torch.profiler) of text-patched copies of gnnx/ops/triton_edge_mlp.py with parts
cut out or changed (the cut versions compute wrong gradients: timing only). Seed-graph layer:
10,000 rows, 200,000 edges, 64 -> 64. Usage: python bench/edge_mlp_ablation.py"""
from __future__ import annotations

import inspect
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from knn_kernel_stats import load_copy  # noqa: E402

import gnnx.ops.triton_edge_mlp as library  # noqa: E402
from gnnx.benchmark.harness import kernel_times_us  # noqa: E402
from gnnx.graph import build_csr  # noqa: E402

GRAD_W = "        grad_w += tl.dot(tl.trans(grad_msg), tl.maximum(pre, 0.0), input_precision=PRECISION)\n"
STORE = "        tl.store(grad_edge + edge * H + offs_h[None, :], grad_pre, mask=emask[:, None] & hmask[None, :])\n"
CUTS = {
    "full": [],
    "winners_int32": [("    grad_edge = torch.empty(", "    arg = arg.to(torch.int32)\n    grad_edge = torch.empty(")],
    "no_grad_w_dot": [(GRAD_W, "")],
    "no_store": [(STORE, "")],
    "no_first_dot": [("tl.dot(grad_msg, w_oh, input_precision=PRECISION)", "grad_msg")],
}


def main() -> None:
    torch.manual_seed(0)
    n, e, h = 10_000, 200_000, 64
    csr = build_csr(torch.randint(n, (2, e), device="cuda"), n)
    a, b = torch.randn(n, h, device="cuda"), torch.randn(n, h, device="cuda")
    w, c = torch.randn(h, h, device="cuda") / 8, torch.randn(h, device="cuda")
    grad = torch.randn(n, h, device="cuda")
    args = (csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t)
    source = inspect.getsource(library)
    results = {"device": torch.cuda.get_device_name(), "config": library.CONFIG, "rows": []}
    for tf32 in (False, True):
        torch.backends.cuda.matmul.allow_tf32 = tf32
        for cut, replacements in CUTS.items():
            patched = source
            for old, new in replacements:
                assert old in patched, old
                patched = patched.replace(old, new)
            module = load_copy(patched, f"edge_ablation_{cut}_{int(tf32)}")
            _, arg = module.edge_mlp_max(*args, a, b, w, c)
            row = {"cut": cut, "tf32": tf32,
                   "backward_us": kernel_times_us(lambda: module.edge_mlp_max_backward(*args, a, b, w, grad, arg),
                                                  ["_backward_kernel"])["_backward_kernel"]}
            for compiled in module._backward_kernel.device_caches[0][0].values():
                row["regs"], row["spills"], row["shared"] = compiled.n_regs, compiled.n_spills, compiled.metadata.shared
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "edge_mlp_ablation.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
