"""Launch shapes of gnnx.ops.project's backward kernels (gnnx/ops/triton_matmul.py) on the GPU
machine, on the shapes of MLPerf's R-GAT batch (bench/rgat.py: the paper table's product,
391,418 x 128 by 528 x 128, and a destination-score product, 391,418 x 128 by 16 x 128) with
output gradients dense, nonzero in the first 23 % of rows (the second layer's) and in the first
2 % (the third layer's), against ATen's products (cuBLAS fp32) in the same run. Times in ms
(CUDA events, best of three rounds of 10). Writes $OUT/tune_project.json."""
import json
import os

import torch

from gnnx.benchmark.harness import cuda_event_ms
from gnnx.ops import triton_matmul

SHAPES = {"paper table": (391_418, 528, 128), "destination scores": (391_418, 16, 128)}
PATTERNS = {"dense": 1.0, "23 % of rows": 0.23, "2 % of rows": 0.023}
MM = [dict(mm_m=m, mm_n=n, mm_k=k, mm_warps=w, mm_stages=st) for m, n, k, w, st in
      ((128, 64, 32, 4, 3), (128, 64, 32, 4, 4), (256, 64, 32, 8, 3), (128, 128, 32, 8, 3), (256, 128, 32, 8, 3),
       (128, 128, 32, 4, 3))]
TMM = [dict(tmm_c=c, tmm_f=f, tmm_warps=w, tmm_stages=st, tmm_programs_per_sm=p) for c, f, w, st, p in
       ((128, 64, 4, 3, 2), (128, 128, 8, 3, 2), (64, 128, 4, 3, 2), (128, 64, 4, 4, 2), (256, 64, 8, 3, 1),
        (128, 64, 4, 3, 4), (128, 64, 4, 3, 1), (128, 128, 8, 3, 1), (64, 64, 4, 3, 4))]


def time_ms(fn, repeats=10):
    return cuda_event_ms(fn, repeats)


def main():
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
    default = dict(triton_matmul.CONFIG)
    torch.manual_seed(0)
    for shape_name, (rows, out_features, in_features) in SHAPES.items():
        x = torch.randn(rows, in_features, device="cuda")
        weight = torch.randn(out_features, in_features, device="cuda")
        for pattern, share in PATTERNS.items():
            grad = torch.randn(rows, out_features, device="cuda")
            grad[int(rows * share):] = 0
            row = {"shape": shape_name, "pattern": pattern,
                   "aten grad x": time_ms(lambda: grad @ weight), "aten grad W": time_ms(lambda: grad.t() @ x)}
            want_x, want_w = grad @ weight, grad.t() @ x
            for kind, shapes, need in (("grad x", MM, (True, False)), ("grad W", TMM, (False, True))):
                for shape in shapes:
                    triton_matmul.CONFIG.update(default)
                    triton_matmul.CONFIG.update(shape)
                    got = triton_matmul.sparse_rows_grads(grad, x, weight, *need)[0 if need[0] else 1]
                    want = want_x if need[0] else want_w
                    error = float((got - want).norm() / want.norm().clamp(min=1e-30))
                    ms = time_ms(lambda: triton_matmul.sparse_rows_grads(grad, x, weight, *need))
                    row[f"{kind} {json.dumps(shape)}"] = ms
                    row[f"{kind} {json.dumps(shape)} rel error"] = error
            triton_matmul.CONFIG.update(default)
            row["both, default shape"] = time_ms(lambda: triton_matmul.sparse_rows_grads(grad, x, weight, True, True))
            results["rows"].append(row)
            print(json.dumps(row), flush=True)
    out = os.environ.get("OUT", ".")
    with open(os.path.join(out, "tune_project.json"), "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
