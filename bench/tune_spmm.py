"""Time launch shapes of the CSR SpMM kernel on the seed graph (device run) vs cuSPARSE."""
import itertools
import json
import os

import torch
import triton

import gnnx
from gnnx.ops import triton_kernels as K


def graph_time(fn, reps=20):
    """Kernel time without host launch overhead: replay a CUDA graph of ``reps`` calls."""
    fn()
    torch.cuda.synchronize()
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        for _ in range(reps):
            fn()
    return triton.testing.do_bench(g.replay, return_mode="median") / reps

torch.manual_seed(0)
N, E = 10_000, 210_000
rows = []
for F in (64, 16):
    x = torch.randn(N, F, device="cuda")
    g = gnnx.Graph(torch.randint(N, (2, E)), N).to("cuda")
    w = torch.rand(E, device="cuda")
    csr = g.csr
    ref = torch.sparse_csr_tensor(csr.rowptr, csr.col, w[csr.perm], (N, N)) @ x
    adj = torch.sparse_csr_tensor(csr.rowptr, csr.col, w, (N, N))
    t_cusparse = graph_time(lambda: adj @ x)
    rows.append({"F": F, "variant": "cusparse", "us": 1000 * t_cusparse})
    for rows_per, block_e, warps in itertools.product((1, 2, 4, 8), (8, 16, 32), (1, 2, 4, 8)):
        cfg = {"ROWS": rows_per, "BLOCK_E": block_e, "num_warps": warps}
        try:
            out, _ = K._launch_spmm(csr.rowptr, csr.col, w[csr.perm].contiguous(), x, False, cfg)
            err = float((out - ref).abs().max())
            t = graph_time(lambda: K._launch_spmm(csr.rowptr, csr.col, w, x, False, cfg))
            rows.append({"F": F, "variant": cfg, "us": 1000 * t, "err": err})
        except Exception as exc:  # noqa: BLE001
            rows.append({"F": F, "variant": cfg, "error": repr(exc)[:200]})
    for is_max in (True,):
        cfg_best = min((r for r in rows if r["F"] == F and "err" in r), key=lambda r: r["us"])["variant"]
        t = graph_time(lambda: K._launch_spmm(csr.rowptr, csr.col, None, x, True, cfg_best))
        rows.append({"F": F, "variant": f"max with {cfg_best}", "us": 1000 * t})
with open(os.path.join(os.environ.get("OUT", "/tmp"), "tune_spmm.json"), "w") as f:
    json.dump(rows, f, indent=1)
for F in (64, 16):
    ok = sorted((r for r in rows if r["F"] == F and "us" in r), key=lambda r: r["us"])
    print(f"F={F}: best", [(r["variant"], round(r["us"], 1), r.get("err")) for r in ok[:6]])
    print("   cusparse", [round(r["us"], 1) for r in rows if r["F"] == F and r["variant"] == "cusparse"],
          "default", [round(r["us"], 1) for r in rows if r["F"] == F and r["variant"] == K.spmm_config(F)])
