"""Registers and spill stack per thread of the fused EdgeConv backward kernel
(``gnnx.ops.triton_edge_mlp._backward_kernel``) for sm_90, compiled offline: no GPU needed, only
Triton beside torch (its bundled cuobjdump reads the cubin). Hidden and output width 64 (the
seed table's EdgeCNN), each warp count, fp32-accurate (``EXACT``) and TF32, the hidden columns
whole and in two halves (``H_SPLIT``). The GPU machine's Triton (3.6) may allocate differently
from the one this runs with; read the numbers as a comparison between variants.
Usage: python bench/edge_mlp_registers.py > bench/results/cpu/edge_mlp_registers.txt"""
import os
import subprocess

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from gnnx.ops import triton_edge_mlp as tem

ORDER = ["rowptr", "col", "perm", "a", "b", "w", "grad", "arg", "grad_a", "grad_edge", "grad_w_part", "num_rows", "H",
         "OUT", "A_STRIDE", "B_STRIDE", "H_PAD", "O_PAD", "CHUNK", "EXACT", "H_SPLIT", "ATOMIC_B"]
TYPES = {**{name: "*fp32" for name in ["a", "b", "w", "grad", "grad_a", "grad_edge", "grad_w_part"]},
         **{name: "*i64" for name in ["rowptr", "col", "perm"]}, "arg": "*i32",
         **{name: "i32" for name in ["num_rows", "H", "OUT", "A_STRIDE", "B_STRIDE"]}}
CUOBJDUMP = os.path.join(os.path.dirname(triton.__file__), "backends", "nvidia", "bin", "cuobjdump")


def resources(warps: int, exact: bool, split: int) -> str:
    constants = {"H_PAD": 64, "O_PAD": 64, "CHUNK": tem.CONFIG["bwd_chunk"], "EXACT": exact, "H_SPLIT": split,
                 "ATOMIC_B": False}
    source = ASTSource(fn=tem._backward_kernel, signature={name: TYPES.get(name, "constexpr") for name in ORDER},
                       constexprs={(ORDER.index(name),): value for name, value in constants.items()})
    kernel = triton.compile(source, target=GPUTarget("cuda", 90, 32), options={"num_warps": warps})
    path = f"/tmp/edge_mlp_backward_{warps}_{exact}_{split}.cubin"
    with open(path, "wb") as f:
        f.write(kernel.asm["cubin"])
    listing = subprocess.run([CUOBJDUMP, "--dump-resource-usage", path], capture_output=True, text=True).stdout
    line = next(line for line in listing.splitlines() if "REG:" in line)
    return " ".join(field for field in line.split() if field.startswith(("REG:", "STACK:")))


if __name__ == "__main__":
    print(f"# fused EdgeConv backward, sm_90, Triton {triton.__version__}, H = OUT = 64, CHUNK {tem.CONFIG['bwd_chunk']}")
    for warps in (1, 2, 4, 8):
        for exact in (True, False):
            for split in (1, 2):
                print(f"warps {warps}  {'tf32x3' if exact else 'tf32  '}  columns {'whole ' if split == 1 else 'halves'}  "
                      f"{resources(warps, exact, split)}", flush=True)
