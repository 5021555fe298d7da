"""Inductor's analysis of which arguments a user Triton kernel writes must name exactly the
kernel's outputs, for every gnnx kernel. An input it takes as written is copied before every launch, and a written
view of a tensor saved for backward came back as garbage on the H200 (torch 2.11): session
22's illegal memory access in the compact R-GAT step, where a helper that loaded ``counts``
and returned the tile's row made ``counts`` look written.

Needs Triton, not a GPU: the kernels are lowered to TTIR for an sm_90 target."""
from __future__ import annotations

import pytest
import torch

triton = pytest.importorskip("triton")
wrap = pytest.importorskip("torch._higher_order_ops.triton_kernel_wrap")

from gnnx.ops import triton_attention, triton_edge_mlp, triton_kernels, triton_knn, triton_matmul  # noqa: E402
from gnnx.ops import triton_grouped_project as grouped  # noqa: E402


def written(kernel, kwargs: dict) -> list:
    """The arguments Inductor takes ``kernel`` to write (torch 2.11: a list of names; later: the
    writes of its access analysis)."""
    if hasattr(wrap, "identify_accessed_tensors"):
        return sorted(dep.name for dep in wrap.identify_accessed_tensors(kernel, kwargs, {}).read_writes.writes)
    return sorted(wrap.identify_mutated_tensors(kernel, kwargs, {}))


@pytest.fixture(autouse=True)
def sm90_target(monkeypatch):
    """TTIR for an H100-class target where no GPU is attached."""
    from triton.backends.compiler import GPUTarget
    from triton.runtime import driver

    if not torch.cuda.is_available():
        try:
            active = driver.active
            monkeypatch.setattr(type(active), "get_current_target", lambda self: GPUTarget("cuda", 90, 32))
        except RuntimeError:  # no driver at all: a stand-in that only names the target
            stand_in = type("Sm90", (), {"get_current_target": lambda self: GPUTarget("cuda", 90, 32)})()
            monkeypatch.setattr(driver, "_active", stand_in, raising=False)
            monkeypatch.setattr(type(driver), "active", property(lambda self: stand_in), raising=False)


def t(*shape, dtype=torch.float32):
    return torch.empty(*shape, dtype=dtype)


LONG = torch.long
GROUPED = dict(x=t(100, 32), rows=t(2, 128, dtype=LONG), counts=t(2, dtype=LONG), w=t(2, 20, 32))
TILES = dict(P=128, FULL=2, IN=32, OUT=20, WIDTH=16, TAIL=16, HALF=False, PRECISION="tf32x3")

CASES = {
    "row_groups marks": (grouped._mark_kernel, dict(index=t(10, dtype=LONG), used=t(1024, dtype=torch.int32), base=0,
                                                     n=10, N=100, BLOCK=1024), ["used"]),
    "row_groups block sums": (grouped._block_sums_kernel, dict(used=t(1024, dtype=torch.int32),
                                                               sums=t(1, dtype=torch.int32), BLOCK=1024), ["sums"]),
    "row_groups scan": (grouped._group_scan_kernel, dict(sums=t(1, dtype=torch.int32), prefix=t(1, dtype=LONG),
                                                         counts=t(1, dtype=LONG), NB=1, BLOCK=1024),
                        ["counts", "prefix"]),
    "row_groups slots": (grouped._slots_kernel, dict(used=t(1024, dtype=torch.int32), prefix=t(1, dtype=LONG),
                                                     rows=t(1, 128, dtype=LONG), slot_of=t(1, 100, dtype=LONG), N=100,
                                                     NB=1, P=128, BLOCK=1024), ["rows", "slot_of"]),
    "add_rows_in_use zeros": (grouped._zero_in_use_kernel, dict(out=t(256, 20), counts=t(2, dtype=LONG), P=128,
                                                                COLS=20, BM=64, BC=64), ["out"]),
    "add_rows_in_use adds": (grouped._add_rows_kernel, dict(out=t(256, 20), index=t(10, dtype=LONG), values=t(10, 16),
                                                            E=10, STRIDE=16, OFFSET=0, COLS=20, WIDTH=16, BE=64, BC=64,
                                                            SKIP=True),
                             ["out"]),
    "grouped_project": (grouped._forward_kernel, dict(GROUPED, out=t(256, 20), out_tail=t(0, 4), BM=64, BN=16, BK=32,
                                                      **TILES), ["out", "out_tail"]),
    **{f"grouped_project grad rows{name}": (grouped._grad_rows_kernel,
                                            dict(grad=t(256, 20), grad_tail=t(0, 4), counts=GROUPED["counts"],
                                                 w=GROUPED["w"], out=t(256, 32), BM=64, BN=32, BK=16, SKIP=skip,
                                                 **TILES),
                                            ["out"])
       for name, skip in (("", False), (" (skipping zero chunks)", True))},
    "grouped_project grad weight": (grouped._grad_weight_kernel,
                                    dict(grad=t(256, 20), grad_tail=t(0, 4), partial=t(4, 20, 32), SPLITS=2, ROWS=32,
                                         BC=16, BF=32, x=GROUPED["x"], rows=GROUPED["rows"], counts=GROUPED["counts"],
                                         **TILES),
                                    ["partial"]),
    "project grad x": (triton_matmul._mm_kernel, dict(a=t(64, 32), b=t(32, 16), c=t(64, 16),
                                                      flags=t(2, dtype=torch.int32), M=64, N=16, K=32, ROWS=32,
                                                      BM=64, BN=16, BK=32, HALF=False, PRECISION="tf32x3"), ["c"]),
    "edge_mlp_max messages": (triton_edge_mlp._messages_kernel,
                              dict(row=t(10, dtype=LONG), col=t(10, dtype=LONG), a=t(8, 32), b=t(8, 32), w=t(16, 32),
                                   bias=t(16), msg=t(10, 16), num_edges=10, H=32, OUT=16, A_STRIDE=32, B_STRIDE=32,
                                   HAS_BIAS=True, H_PAD=32, O_PAD=16, EDGES=32, PRECISION="tf32x3"), ["msg"]),
}
INT = torch.int32
CASES.update({
    "project nonzero blocks": (triton_matmul._nonzero_blocks_kernel,
                               dict(a=t(64, 32), flags=t(2, dtype=INT), M=64, K=32, COLS=32, ROWS=32), ["flags"]),
    "project tile list": (triton_matmul._compact_kernel, dict(flags=t(2, dtype=INT), tiles=t(2, dtype=INT),
                                                              count=t(1, dtype=INT), num_flags=2, BLOCK=1024),
                          ["count", "tiles"]),
    "project grad weight": (triton_matmul._tmm_kernel, dict(a=t(64, 32), b=t(64, 16), partial=t(2, 32, 16),
                                                            tiles=t(2, dtype=INT), count=t(1, dtype=INT), M=64, KA=32,
                                                            N=16, ROWS=32, BC=32, BF=16, HALF=False,
                                                            PRECISION="tf32x3"), ["partial"]),
    "spmm (weighted max)": (triton_kernels._spmm_kernel, dict(rowptr=t(9, dtype=LONG), col=t(10, dtype=LONG),
                                                              weight=t(10), x=t(8, 32), out=t(8, 32),
                                                              arg=t(8, 32, dtype=LONG), num_rows=8, F=32, HEAD_C=32,
                                                              W_HEADS=1, HAS_W=True, SCALAR_W=True, IS_MAX=True,
                                                              ROWS=1, BLOCK_E=8, BLOCK_F=32, HAS_COL=True), ["arg", "out"]),
    "sddmm": (triton_kernels._sddmm_kernel, dict(row=t(10, dtype=LONG), col=t(10, dtype=LONG), a=t(8, 32),
                                                 b=t(8, 32), out=t(10, 1), num_edges=10, F=32, HEAD_C=32, H=1,
                                                 BLOCK_E=128, BLOCK_C=32), ["out"]),
    "gat_attention": (triton_attention._attention_kernel,
                      dict(rowptr=t(9, dtype=LONG), col=t(10, dtype=LONG), x=t(8, 2, 16), score_src=t(8, 2),
                           score_dst=t(8, 2), x_dst=t(8, 2, 16), att=t(2, 16), bias=t(32), out=t(8, 2, 16),
                           m_out=t(8, 2), r_out=t(8, 2), H=2, C=16, slope=0.2, V2=False, HAS_BIAS=True, BLOCK_E=32,
                           BLOCK_C=16), ["m_out", "out", "r_out"]),
    "gat_attention backward, rows": (
        triton_attention._attention_rows_backward_kernel,
        dict(rowptr=t(9, dtype=LONG), col=t(10, dtype=LONG), x=t(8, 2, 16), score_src=t(8, 2), score_dst=t(8, 2),
             bias=t(10, 2), grad_out=t(8, 2, 16), out=t(8, 2, 16), m_in=t(8, 2), r_in=t(8, 2), alpha_out=t(10, 2),
             d_pre_out=t(10, 2), grad_dst=t(8, 2), H=2, C=16, slope=0.2, HAS_BIAS=True, BLOCK_E=16, BLOCK_C=16),
        ["alpha_out", "d_pre_out", "grad_dst"]),
    "gat_attention backward, columns": (
        triton_attention._attention_cols_backward_kernel,
        dict(rowptr_t=t(9, dtype=LONG), col_t=t(10, dtype=LONG), t2c=t(10, dtype=LONG), grad_out=t(8, 2, 16),
             alpha=t(10, 2), d_pre=t(10, 2), grad_x=t(8, 2, 16), grad_src=t(8, 2), H=2, C=16, BLOCK_E=16,
             BLOCK_C=16), ["grad_src", "grad_x"]),
    "knn morton codes": (triton_knn._morton_kernel, dict(p=t(10, 3), lo=t(3), scale=t(3), batch=t(10, dtype=LONG),
                                                         out=t(10, dtype=LONG), n=10, D=3, BITS=21, HAS_BATCH=True,
                                                         BLOCK=1024), ["out"]),
    "knn boxes": (triton_knn._boxes_kernel, dict(p=t(10, 3), boxes=t(12), n=10, D=3, D_PAD=4, BLOCK=64), ["boxes"]),
    "knn": (triton_knn._knn_kernel, dict(x=t(10, 3), y=t(10, 3), x_index=t(10, dtype=LONG), y_index=t(10, dtype=LONG),
                                         lo=t(10, dtype=LONG), hi=t(10, dtype=LONG), tile_boxes=t(6),
                                         block_boxes=t(18), starts=t(10, dtype=LONG), out=t(10, 4, dtype=LONG),
                                         num_y=10, k=4, max_dist=-1.0, D=3, D_PAD=4, K_PAD=4, BLOCK_M=4,
                                         BLOCK_N=64, CHUNK=64, EXCLUDE_OWN=True, HAS_MAX=False), ["out"]),
})
for split in (1, 2):
    for atomic_b in (False, True):
        CASES[f"edge_mlp_max backward (h_split {split}, atomic b {atomic_b})"] = (
            triton_edge_mlp._backward_kernel,
            dict(rowptr=t(9, dtype=LONG), col=t(10, dtype=LONG), perm=t(10, dtype=LONG), a=t(8, 32), b=t(8, 32),
                 w=t(16, 32), grad=t(8, 16), arg=t(8, 16, dtype=torch.int32), grad_a=t(8, 32), grad_edge=t(10, 32),
                 grad_w_part=t(2, 16, 32), num_rows=8, H=32, OUT=16, A_STRIDE=32, B_STRIDE=32, H_PAD=32, O_PAD=16,
                 CHUNK=16, EXACT=True, H_SPLIT=split, ATOMIC_B=atomic_b),
            ["grad_a", "grad_edge", "grad_w_part"])


@pytest.mark.parametrize("name", list(CASES))
def test_inductor_takes_a_kernel_to_write_only_its_outputs(name):
    kernel, kwargs, outputs = CASES[name]
    assert written(kernel, kwargs) == outputs
