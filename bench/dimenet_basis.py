"""DimeNet's radial basis: build time and float32 accuracy of gnnx's unsimplified closed
forms against PyG's simplified ones (7 orders x 6 zeros, DimeNet++'s defaults), each
against the float64 evaluation of gnnx's forms; distances as a fraction of the cutoff.

Usage: python bench/dimenet_basis.py [--out bench/results/cpu]
"""
import argparse
import json
import os
import time

import sympy as sym
import torch
import torch_geometric

from gnnx.nn import dimenet_basis


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", default="bench/results/cpu")
    args = parser.parse_args()
    from torch_geometric.nn.models.dimenet_utils import bessel_basis

    start = time.perf_counter()
    ours = dimenet_basis.radial_functions(7, 6)
    ours_s = time.perf_counter() - start
    start = time.perf_counter()
    forms = bessel_basis(7, 6)  # PyG's simplified sympy forms
    x = sym.symbols("x")
    theirs = [sym.lambdify([x], f, {"sin": torch.sin, "cos": torch.cos}) for row in forms for f in row]
    theirs_s = time.perf_counter() - start
    rows = {}
    for low in (0.05, 0.1, 0.2, 0.3):
        d = torch.linspace(low, 1.0, 200, dtype=torch.float64)
        ref = [f(d) for f in ours]
        rows[low] = {"gnnx": max((f(d.float()).double() - r).abs().max().item() for f, r in zip(ours, ref)),
                     "pyg": max((f(d.float()).double() - r).abs().max().item() for f, r in zip(theirs, ref))}
    result = {"torch": torch.__version__, "pyg": torch_geometric.__version__, "build_s": {"gnnx": ours_s,
              "pyg": theirs_s}, "max_abs_error_float32": rows}
    os.makedirs(args.out, exist_ok=True)
    with open(os.path.join(args.out, "dimenet_basis.json"), "w") as f:
        json.dump(result, f, indent=1)
    lines = [f"# DimeNet radial basis (7 x 6), torch {torch.__version__}, PyG {torch_geometric.__version__}, 2-core CPU",
             "", f"Build: gnnx {ours_s:.1f} s, PyG {theirs_s:.1f} s (sympy forms, in one process).", "",
             "Largest float32 error against float64, distances from the given fraction of the cutoff to 1:", "",
             "| from | gnnx | PyG |", "|---:|---:|---:|"]
    lines += [f"| {low} | {v['gnnx']:.2e} | {v['pyg']:.2e} |" for low, v in rows.items()]
    text = "\n".join(lines) + "\n"
    with open(os.path.join(args.out, "dimenet_basis.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
