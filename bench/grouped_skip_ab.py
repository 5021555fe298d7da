"""The compact rows' zero-gradient skipping (issue #16) kernel by kernel, on R-GAT's paper table
(the shape of ``bench/tune_grouped_project.py``: 391k rows, 4 relations sent with 128 projection
+ 4 score columns, 4 score-only groups, 128 input features, fp32 ``tf32x3``), in a layer whose
input needs a gradient (``need_rows``: both ``grad rows`` and ``grad W`` run).

Two gradients: ``dense`` (every row in use carries one: the trimmed step) and ``prefix 10%``
(each group's first tenth of its rows: an untrimmed layer, whose rows beyond the seeds' hops get
none; sampled nodes are numbered hop by hop, so those rows come last in each group), each with
``CONFIG["skip_zero_grad"]`` off and on. Session 25 measured three settings with this script at
commit 1fff676 (``bench/results/h200/session25/``): none; ``tile`` (session 24's: ``grad rows``
checked each 64-row tile before its products, ``grad W`` branched around each 32-row block's
gather) and ``chunk`` (``grad rows`` checks each 32-column chunk as its product loop reads it,
``grad W`` masked the gather). Shipped since: ``chunk``'s ``grad rows`` and no skipping in
``grad W``. Writes ``$OUT/grouped_skip_ab.json``: each
kernel's microseconds (torch.profiler) and the whole call's (CUDA events), results checked equal
to the unskipped call's."""
from __future__ import annotations

import json
import os

import torch

from gnnx.benchmark import harness
from gnnx.ops import grouped_projection as gp
from gnnx.ops import triton_grouped_project as kernels

N, IN, WIDTH, HEADS, SENT, RECEIVED = 391_418, 128, 128, 4, 4, 4
IN_USE_SENT, IN_USE_RECEIVED = 0.35, 0.2
SETTINGS = {"none": False, "shipped": True}
KERNELS = ("_grad_rows_kernel", "_grad_weight_kernel")


def main() -> None:
    torch.manual_seed(0)
    device = "cuda"
    x = torch.randn(N, IN, device=device)
    indices = [torch.randperm(N, device=device)[:int(N * (IN_USE_SENT if g < SENT else IN_USE_RECEIVED))]
               for g in range(SENT + RECEIVED)]
    rg = gp.row_groups(indices, N)
    weight = torch.randn(SENT + RECEIVED, WIDTH + HEADS, IN, device=device) / IN ** 0.5
    out, tail = kernels.grouped_project(x, weight, rg.rows, rg.counts, rg.stride, SENT, WIDTH)
    position = torch.arange(rg.stride, device=device)
    report = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}
    default = kernels.CONFIG["skip_zero_grad"]
    for gradient, fraction in (("dense", 1.0), ("prefix 10%", 0.1)):
        carries = position < (rg.counts[:, None] * fraction).long()  # [G, stride]
        grad = torch.randn_like(out) * carries[:SENT].reshape(-1, 1)
        grad_tail = torch.randn_like(tail) * carries[SENT:].reshape(-1, 1)
        expected = None
        for setting, skipping in SETTINGS.items():
            kernels.CONFIG["skip_zero_grad"] = skipping
            call = lambda: kernels.grouped_project_grads(grad, grad_tail, x, weight, rg.rows, rg.counts,  # noqa: E731
                                                         rg.stride, SENT, WIDTH, True)
            got = call()
            in_use = (position < rg.counts[:, None]).reshape(-1)
            got = (got[0][in_use], got[1])
            if expected is None:
                expected = got
            equal = all(torch.allclose(g, e, rtol=1e-4, atol=1e-3) for g, e in zip(got, expected))
            row = {"gradient": gradient, "skipping": setting, "equal_to_none": equal,
                   "us": round(1000 * harness.cuda_event_ms(call), 1), "kernel_us": harness.kernel_times_us(call, KERNELS)}
            report["rows"].append(row)
            print(json.dumps(row), flush=True)
    kernels.CONFIG["skip_zero_grad"] = default
    with open(os.path.join(os.environ.get("OUT", "/tmp"), "grouped_skip_ab.json"), "w") as f:
        json.dump(report, f, indent=1)


if __name__ == "__main__":
    main()
