"""Backward of the fused EdgeConv op (issue #17) split in two kernels (``CONFIG["bwd_split"]``:
``_destination_kernel`` for ``grad a`` and ``grad W`` over the rows' winners,
``_edge_grad_kernel`` for the edges' pre-activation gradients over blocks of CSR positions)
against the destination-row kernel that gives all three with a one-hot product per row; both
followed by the transposed SpMM for ``grad b``, on one EdgeConv layer of the seed graph (10,000 nodes, 200,000
random edges, MLP [128, 64, 64]). Each launch shape is checked against autograd through the
reference in float64 and timed (microseconds per backward, CUDA events; kernel times from
torch.profiler), in both precisions. Writes $OUT/edge_mlp_split_backward.json."""
import json
import os

import torch

import gnnx
from gnnx.benchmark import harness
from gnnx.ops import triton_edge_mlp as tem
from gnnx.ops.edge_mlp import edge_mlp_max_reference

OUT = os.environ.get("OUT", "/tmp")
KERNELS = ("_backward_kernel", "_spmm_kernel", "_destination_kernel", "_edge_grad_kernel")
torch.manual_seed(0)
n, e, hidden = 10_000, 200_000, 64
csr = gnnx.Graph(torch.randint(n, (2, e), device="cuda"), n).csr
structure = (csr.rowptr, csr.col, csr.perm, csr.row, csr.rowptr_t, csr.perm_t)
a, b = torch.randn(n, hidden, device="cuda"), torch.randn(n, hidden, device="cuda")
w, bias = torch.randn(hidden, hidden, device="cuda") / 8, torch.randn(hidden, device="cuda")
grad = torch.randn(n, hidden, device="cuda")
leaves = [t.double().requires_grad_() for t in (a, b, w)]
reference = torch.autograd.grad(edge_mlp_max_reference(*leaves, bias.double(), csr.col, csr.row, n), leaves,
                                grad.double())
results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
default = dict(tem.CONFIG)
shapes = [{"bwd_split": False}, {}]
shapes += [{"edge_block": e, "edge_warps": wp, "edge_stages": st}
           for e, wp, st in ((32, 2, 3), (32, 4, 3), (64, 4, 2), (64, 8, 3), (128, 4, 3), (128, 8, 3), (64, 4, 1))]
for tf32 in (False, True):
    torch.backends.cuda.matmul.allow_tf32 = tf32
    _, arg = tem.edge_mlp_max(*structure, a, b, w, bias)
    for shape in shapes if not tf32 else shapes[:2]:
        tem.CONFIG.update(default)
        tem.CONFIG.update(shape)
        row = {"tf32": tf32, "config": shape}
        try:
            backward = lambda: tem.edge_mlp_max_backward(*structure, a, b, w, grad, arg)  # noqa: E731
            got = backward()
            row["max_rel_err"] = [float((g.double() - r).abs().max() / r.abs().max()) for g, r in zip(got, reference)]
            row["repeatable"] = all(torch.equal(x, y) for x, y in zip(got, backward()))
            row["us"] = round(1000 * harness.cuda_event_ms(backward), 1)
            row["kernel_us"] = harness.kernel_times_us(backward, KERNELS)
        except Exception as error:  # noqa: BLE001 (a shape the compiler refuses)
            row["error"] = f"{type(error).__name__}: {str(error)[:300]}"
        results["rows"].append(row)
        print(json.dumps(row), flush=True)
tem.CONFIG.update(default)
torch.backends.cuda.matmul.allow_tf32 = False
with open(os.path.join(OUT, "edge_mlp_split_backward.json"), "w") as f:
    json.dump(results, f, indent=1)
