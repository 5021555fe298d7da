"""Backward of the fused EdgeConv op (issue #17) on one EdgeConv layer of the seed graph
(10,000 nodes, 200,000 random edges, MLP [128, 64, 64]): each launch shape of the backward
(``CONFIG``'s ``bwd_*`` keys) checked against autograd through the reference in float64 and
timed (microseconds per backward, CUDA events; kernel times from torch.profiler), in both
precisions, with the hidden columns whole and in two halves (``bwd_h_split``) and ``grad b`` by
the transposed CSR or by atomics (``bwd_atomic_b``). Writes
$OUT/edge_mlp_winner_rows.json.

The backward walks the destination rows and recomputes one hidden row per output channel (the
channel's winner) where the kernel before it (commit c1e1b89, ``_backward_kernel`` over blocks
of 32 CSR positions) recomputed one per edge and summed ``grad a`` with a second SpMM pass;
bench/results/h100/edge_mlp_winner_rows.md has both, measured side by side."""
import json
import os

import torch

import gnnx
from gnnx.benchmark import harness
from gnnx.ops import triton_edge_mlp as tem
from gnnx.ops.edge_mlp import edge_mlp_max_reference

OUT = os.environ.get("OUT", "/tmp")
KERNELS = ("_backward_kernel", "_spmm_kernel")
torch.manual_seed(0)
n, e, hidden = 10_000, 200_000, 64
csr = gnnx.Graph(torch.randint(n, (2, e), device="cuda"), n).csr
structure = (csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t)
backward_structure = (csr.rowptr, csr.col, csr.perm, csr.rowptr_t, csr.perm_t)
a, b = torch.randn(n, hidden, device="cuda"), torch.randn(n, hidden, device="cuda")
w, bias = torch.randn(hidden, hidden, device="cuda") / 8, torch.randn(hidden, device="cuda")
grad = torch.randn(n, hidden, device="cuda")
leaves = [t.double().requires_grad_() for t in (a, b, w)]
reference = torch.autograd.grad(edge_mlp_max_reference(*leaves, bias.double(), csr.col, csr.row, n), leaves,
                                grad.double())
results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
default = dict(tem.CONFIG)
shapes = [{}] + [{"bwd_chunk": c, "bwd_warps": wp, "bwd_programs_per_sm": p}
                 for c, wp, p in ((32, 4, 4), (32, 2, 8), (16, 2, 4), (64, 2, 4), (32, 8, 2))]
# the hidden columns in two halves (half the registers of a row's tiles; at 2 warps the whole-width
# kernel spills 864 bytes a thread, the halves 464: bench/results/cpu/edge_mlp_registers.txt)
shapes += [{"bwd_h_split": 2, "bwd_warps": wp, "bwd_programs_per_sm": p} for wp, p in ((2, 4), (2, 8), (4, 4), (4, 2))]
# grad b by atomic adds from the kernel (no [E, H] buffer, no transposed-CSR pass)
shapes += [{"bwd_atomic_b": True}, {"bwd_atomic_b": True, "bwd_h_split": 2}]
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    _, arg = tem.edge_mlp_max(*structure, a, b, w, bias)
    for shape in shapes if not tf32 else shapes[:1]:
        tem.CONFIG.update(default)
        tem.CONFIG.update(shape)
        row = {"tf32": tf32, "config": shape}
        try:
            got = tem.edge_mlp_max_backward(*backward_structure, a, b, w, grad, arg)
            row["max_rel_err"] = [float((g.double() - r).abs().max() / r.abs().max()) for g, r in zip(got, reference)]
            backward = lambda: tem.edge_mlp_max_backward(*backward_structure, a, b, w, grad, arg)  # noqa: E731
            row["us"] = round(1000 * harness.cuda_event_ms(backward), 1)
            row["kernel_us"] = harness.kernel_times_us(backward, KERNELS)
        except Exception as error:  # noqa: BLE001 (a shape the compiler refuses)
            row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
tem.CONFIG.update(default)
torch.backends.cuda.matmul.allow_tf32 = False
with open(os.path.join(OUT, "edge_mlp_winner_rows.json"), "w") as f:
    json.dump(results, f, indent=1)
