"""Launch shapes of :func:`gnnx.ops.grouped_project`'s Triton kernels on R-GAT's largest table
(issue #16, compact rows): the trimmed step's first layer, paper type (391k rows; 4 relations
sent, each 128 projection + 4 score columns, on ~35 % of the rows; 4 score-only groups received),
fp32 (``tf32x3``). Times the forward and ``grad W`` (layer 1's ``x`` needs no gradient) per
``CONFIG`` variant, beside cuBLAS's whole-table products (every row, every relation: what the
default layout runs). ``SWEEP=0``: the shipped ``CONFIG`` only. Writes
``$OUT/tune_grouped_project.json``."""
from __future__ import annotations

import itertools
import json
import os

import torch
import triton.testing

from gnnx.ops import grouped_projection as gp
from gnnx.ops import triton_grouped_project as kernels

N, IN, WIDTH, HEADS, SENT, RECEIVED = 391_418, 128, 128, 4, 4, 4
IN_USE_SENT, IN_USE_RECEIVED = 0.35, 0.2


def main() -> None:
    torch.manual_seed(0)
    device = "cuda"
    x = torch.randn(N, IN, device=device)
    groups = SENT + RECEIVED
    indices = [torch.randperm(N, device=device)[:int(N * (IN_USE_SENT if g < SENT else IN_USE_RECEIVED))]
               for g in range(groups)]
    rg = gp.row_groups(indices, N)
    weight = torch.randn(groups, WIDTH + HEADS, IN, device=device) / IN ** 0.5
    out, tail = kernels.grouped_project(x, weight, rg.rows, rg.counts, rg.stride, SENT, WIDTH)
    grad, grad_tail = torch.randn_like(out), torch.randn_like(tail)
    whole = torch.randn(SENT * (WIDTH + HEADS) + RECEIVED * HEADS, IN, device=device)
    whole_grad = torch.randn(N, whole.size(0), device=device)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "shape": {
        "rows": N, "in": IN, "sent": SENT, "received": RECEIVED, "in_use_sent": IN_USE_SENT,
        "in_use_received": IN_USE_RECEIVED},
        "cublas_whole_table_forward_ms": triton.testing.do_bench(lambda: x @ whole.t()),
        "cublas_whole_table_grad_w_ms": triton.testing.do_bench(lambda: whole_grad.t() @ x),
        "row_groups_ms": triton.testing.do_bench(lambda: gp.row_groups(indices, N)),
        "forward": [], "grad_w": []}
    print(json.dumps({k: v for k, v in report.items() if k.endswith("_ms")}), flush=True)
    default = dict(kernels.CONFIG)
    sweep = os.environ.get("SWEEP", "1") != "0"
    forward_shapes = itertools.product((64, 128), (64, 128), (4, 8), (3,)) if sweep else [
        (default["rows"], default["cols"], default["warps"], default["stages"])]
    grad_w_shapes = itertools.product((32, 64), (2, 8, 16), (4, 8), (64, 128)) if sweep else [
        (default["w_rows"], default["w_programs_per_sm"], default["w_warps"], default["w_cols"])]
    for rows, cols, warps, stages in forward_shapes:
        kernels.CONFIG.update(default, rows=rows, cols=cols, warps=warps, stages=stages)
        ms = triton.testing.do_bench(lambda: kernels.grouped_project(x, weight, rg.rows, rg.counts, rg.stride, SENT,
                                                                     WIDTH))
        report["forward"].append({"rows": rows, "cols": cols, "warps": warps, "stages": stages, "ms": ms})
        print("forward", report["forward"][-1], flush=True)
    for w_rows, per_sm, w_warps, w_cols in grad_w_shapes:
        kernels.CONFIG.update(default, w_rows=w_rows, w_programs_per_sm=per_sm, w_warps=w_warps, w_cols=w_cols)
        ms = triton.testing.do_bench(lambda: kernels.grouped_project_grads(
            grad, grad_tail, x, weight, rg.rows, rg.counts, rg.stride, SENT, WIDTH, False))
        report["grad_w"].append({"w_rows": w_rows, "w_programs_per_sm": per_sm, "w_warps": w_warps,
                                 "w_cols": w_cols, "ms": ms})
        print("grad_w", report["grad_w"][-1], flush=True)
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "tune_grouped_project.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
