"""Which kernel faults in the compiled compact-rows R-GAT step? (Session 22, H200.)

Runs ``test_grouped_trains_compiled_on_cuda_with_trimmed_inputs`` with compact rows, one process
per variant under ``CUDA_LAUNCH_BLOCKING=1`` (so the faulting launch is the one that raises):
eager; compiled as shipped; with ``add_rows_in_use`` and/or the Triton ``row_groups`` replaced by
ATen's. Usage on the GPU machine: ``PYTHONPATH=. python3 bench/compact_fault_bisect.py``.
"""
from __future__ import annotations

import os
import subprocess
import sys
import traceback

VARIANTS = ["eager", "default", "aten_add", "aten_rows", "aten_both"]


def run_all() -> None:
    for variant in VARIANTS:
        result = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=150,
                                env={**os.environ, "VARIANT": variant, "CUDA_LAUNCH_BLOCKING": "1"})
        lines = [line for line in (result.stdout + result.stderr).splitlines() if "arn" not in line]
        print(f"==== {variant}: rc {result.returncode}")
        print("\n".join(lines[-25:]))


def run_one(variant: str) -> None:
    import pytest
    import torch

    import gnnx.ops as ops
    from gnnx.nn import hetero_gat
    from gnnx.ops import grouped_projection
    from gnnx.ops.scatter import index_add_fp32

    sys.path.insert(0, ".")
    import tests.nn.test_hetero_grouped as grouped_tests

    patch = pytest.MonkeyPatch()
    patch.setattr(hetero_gat, "COMPACT_ROWS", True)
    if variant in ("aten_add", "aten_both"):
        def aten_add(index, parts, counts, stride):
            values = torch.cat(list(parts), 1)
            return index_add_fp32((counts.numel() * stride, values.size(1)), index, values)
        patch.setattr(hetero_gat, "add_rows_in_use", aten_add)
    if variant in ("aten_rows", "aten_both"):
        def aten_rows(indices, num_rows):
            rows, counts, slot_of = grouped_projection._row_groups(list(indices), num_rows)
            return grouped_projection.RowGroups(rows, counts, slot_of, grouped_projection._stride(num_rows))
        patch.setattr(ops, "row_groups", aten_rows)
    try:
        if variant == "eager":
            patch.setattr(hetero_gat, "ENABLED", None)
            layer = grouped_tests.trimmed_layer(grouped_tests._model().cuda())
            for i, x, edge_index, keep in grouped_tests.trimmed_batches("cuda"):
                out = layer(x, edge_index, keep)
                sum(v.square().sum() for v in out.values()).backward()
                torch.cuda.synchronize()
                print("batch", i, "ok")
        else:
            grouped_tests.test_grouped_trains_compiled_on_cuda_with_trimmed_inputs(patch)
        print("PASSED")
    except Exception:
        traceback.print_exc()


if __name__ == "__main__":
    if "VARIANT" in os.environ:
        run_one(os.environ["VARIANT"])
    else:
        run_all()
