"""fp32 matrix products of R-GAT's grouped projection: gnnx's tf32x3 Triton kernel
(:mod:`gnnx.ops.triton_matmul`) against cuBLAS fp32 (and cuBLAS TF32, for scale), with a
sweep of tile shapes per shape class and each result's largest error against fp64.

Shapes are one layer's of ``bench/rgat.py`` (a batch of ~590k nodes): the paper and author
projections (forward), their input gradients and weight gradients. Writes
``matmul_tf32x3.json`` / ``.md`` to ``--out``.

    python bench/matmul_tf32x3.py --out bench/results/h100
"""
from __future__ import annotations

import argparse
import itertools
import json
import os

import torch
import triton
import triton.testing

import gnnx.ops.triton_matmul as tm

SHAPES = {  # name: (M, K, N, split_k, a transposed)
    "paper projection": (391_418, 128, 528, False, False),
    "author projection": (135_311, 128, 264, False, False),
    "paper grad x": (391_418, 528, 128, False, False),
    "paper grad W": (528, 391_418, 128, True, True),
    "author grad W": (264, 135_311, 128, True, True),
}
PRECISIONS = ["split", "tf32x3", "tf32"]
TILES = [(128, 128, 32, 8, 3), (128, 64, 32, 4, 3), (64, 128, 32, 4, 3), (128, 128, 64, 8, 2),
         (128, 256, 32, 8, 3), (64, 64, 32, 4, 4), (128, 64, 64, 4, 3), (128, 128, 16, 8, 4), (256, 128, 32, 8, 3), (128, 64, 16, 4, 4)]


def operands(M, K, N, transposed):
    a = torch.randn(K, M, device="cuda").t() if transposed else torch.randn(M, K, device="cuda")
    return a, torch.randn(K, N, device="cuda")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results")
    args = parser.parse_args()
    torch.manual_seed(0)
    rows, report = [], {"device": torch.cuda.get_device_name(), "torch": torch.__version__,
                        "triton": triton.__version__, "shapes": {}}
    for name, (M, K, N, split_k, transposed) in SHAPES.items():
        a, b = operands(M, K, N, transposed)
        exact = (a.double() @ b.double())
        scale = exact.abs().max().item()
        torch.backends.cuda.matmul.allow_tf32 = False
        cublas = triton.testing.do_bench(lambda: a @ b)
        cublas_err = ((a @ b).double() - exact).abs().max().item() / scale
        torch.backends.cuda.matmul.allow_tf32 = True
        tf32 = triton.testing.do_bench(lambda: a @ b)
        tf32_err = ((a @ b).double() - exact).abs().max().item() / scale
        torch.backends.cuda.matmul.allow_tf32 = False
        sweep = {}
        key = "long" if split_k else "tall"
        for precision, (bm, bn, bk, warps, stages), per_sm in itertools.product(
                PRECISIONS, TILES, [2] if split_k else [0]):
            tm.PRECISION = precision
            tm.CONFIG[key] = {"BM": bm, "BN": bn, "BK": bk, "GROUP_M": 8, "num_warps": warps, "num_stages": stages}
            if per_sm:
                tm.PROGRAMS_PER_SM = per_sm
            label = f"{precision} {bm}x{bn}x{bk} w{warps} s{stages}" + (f" p{per_sm}" if per_sm else "")
            try:
                ms = triton.testing.do_bench(lambda: tm.matmul_tf32x3(a, b, split_k))
                err = (tm.matmul_tf32x3(a, b, split_k).double() - exact).abs().max().item() / scale
            except Exception as error:  # a tile shape Triton cannot build (registers, shared memory)
                print(name, label, "failed:", str(error).splitlines()[0][:120], flush=True)
                continue
            sweep[label] = {"ms": ms, "rel_err": err}
            print(f"{name:18s} {label:24s} {ms:7.3f} ms  err {err:.1e}", flush=True)
        best = min((k for k in sweep if not k.startswith("tf32 ")), key=lambda k: sweep[k]["ms"])
        flops = 2 * M * K * N
        report["shapes"][name] = {"M": M, "K": K, "N": N, "cublas_fp32_ms": cublas, "cublas_fp32_rel_err": cublas_err,
                                  "cublas_tf32_ms": tf32, "cublas_tf32_rel_err": tf32_err, "best": best,
                                  "sweep": sweep}
        rows.append(f"| {name} | {M}x{K}x{N} | {cublas:.3f} ({flops / cublas / 1e9:.0f} TF/s) | "
                    f"{sweep[best]['ms']:.3f} ({flops / sweep[best]['ms'] / 1e9:.0f} TF/s) | {best} | "
                    f"{cublas / sweep[best]['ms']:.2f}x | {cublas_err:.1e} / {sweep[best]['rel_err']:.1e} / "
                    f"{tf32_err:.1e} | {tf32:.3f} |")
        print(rows[-1], flush=True)
    lines = [f"# fp32 products: tf32x3 Triton vs cuBLAS, {report['device']} (torch {torch.__version__}, "
             f"triton {triton.__version__})", "",
             "| product | M x K x N | cuBLAS fp32 ms | tf32x3 ms (best tile) | tile | speed-up | "
             "max error / max value: fp32 / tf32x3 / TF32 | cuBLAS TF32 ms |", "|---|---|---:|---:|---|---:|---|---:|"]
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "matmul_tf32x3.json"), "w") as f:
        json.dump(report, f, indent=1)
    with open(os.path.join(args.out, "matmul_tf32x3.md"), "w") as f:
        f.write("\n".join(lines + rows) + "\n")
    print("\n".join(lines + rows))


if __name__ == "__main__":
    main()
