"""EdgeCNN's node products on the seed graph: cuBLAS fp32 vs Triton tf32x3 (forward x W^T and the gradients)."""
import json
import os

import torch
import triton
import triton.language as tl

from gnnx.ops import triton_matmul as tmm


@triton.jit
def _mm(a, w, c, M, N, K, BM: tl.constexpr, BN: tl.constexpr, BK: tl.constexpr, P: tl.constexpr):
    # c[M, N] = a[M, K] @ w[N, K]^T
    pm = tl.program_id(0)
    pn = tl.program_id(1)
    rm = pm * BM + tl.arange(0, BM)
    rn = pn * BN + tl.arange(0, BN)
    acc = tl.zeros([BM, BN], tl.float32)
    for k0 in range(0, K, BK):
        rk = k0 + tl.arange(0, BK)
        x = tl.load(a + rm[:, None] * K + rk[None, :], mask=(rm[:, None] < M) & (rk[None, :] < K), other=0.0)
        y = tl.load(w + rn[None, :] * K + rk[:, None], mask=(rn[None, :] < N) & (rk[:, None] < K), other=0.0)
        acc = tl.dot(x, y, acc, input_precision=P)
    tl.store(c + rm[:, None] * N + rn[None, :], acc, mask=(rm[:, None] < M) & (rn[None, :] < N))

def tri_mm(a, w, BM, BN, BK, warps, stages, P="tf32x3"):
    M, K = a.shape
    N = w.shape[0]
    c = torch.empty(M, N, device=a.device)
    _mm[(triton.cdiv(M, BM), triton.cdiv(N, BN))](a, w, c, M, N, K, BM=BM, BN=BN, BK=BK, P=P, num_warps=warps, num_stages=stages)
    return c

torch.manual_seed(0)
n = 10_000
x = torch.randn(n, 64, device="cuda")
w = torch.randn(128, 64, device="cuda") / 8
g = torch.randn(n, 128, device="cuda")
res = {"device": torch.cuda.get_device_name(), "rows": []}
def rec(name, fn, ref):
    err = float((fn().double() - ref).abs().max() / ref.abs().max())
    us = round(1000 * triton.testing.do_bench_cudagraph(fn, rep=200), 2)
    res["rows"].append({"name": name, "us": us, "err": err})
    print(name, us, "%.1e" % err, flush=True)
ref_f = x.double() @ w.double().t()
ref_gx = g.double() @ w.double()
ref_gw = g.double().t() @ x.double()
rec("cublas fwd x@w.t()", lambda: x @ w.t(), ref_f)
rec("cublas grad_x g@w", lambda: g @ w, ref_gx)
rec("cublas grad_w g.t()@x", lambda: g.t() @ x, ref_gw)
for BM, BN, BK, wp, st in ((64, 128, 32, 4, 3), (128, 128, 32, 8, 3), (64, 64, 32, 4, 3), (32, 128, 64, 4, 2), (128, 64, 64, 4, 2), (64, 128, 64, 4, 1), (32, 64, 64, 2, 1), (64, 64, 64, 4, 1)):
    rec(f"triton fwd {BM}x{BN}x{BK} w{wp} s{st}", lambda: tri_mm(x, w, BM, BN, BK, wp, st), ref_f)
wt = w.t().contiguous()
for BM, BN, BK, wp, st in ((64, 64, 32, 4, 3), (128, 64, 32, 4, 3), (64, 64, 64, 4, 2), (32, 64, 64, 2, 2), (64, 64, 128, 4, 1)):
    rec(f"triton grad_x {BM}x{BN}x{BK} w{wp} s{st}", lambda: tri_mm(g, wt, BM, BN, BK, wp, st), ref_gx)
rec("cublas fwd addmm", lambda: torch.addmm(torch.zeros(128, device="cuda"), x, w.t()), ref_f)
for P in ("tf32",):
    rec(f"triton fwd 64x128x64 {P}", lambda: tri_mm(x, w, 64, 128, 64, 4, 1, P), ref_f)
rec("gnnx sparse_rows_grads (both)", lambda: tmm.sparse_rows_grads(g, x, w, True, True)[1], ref_gw)
rec("gnnx sparse_rows_grads (grad_x)", lambda: tmm.sparse_rows_grads(g, x, w, True, False)[0], ref_gx)
rec("gnnx sparse_rows_grads (grad_w)", lambda: tmm.sparse_rows_grads(g, x, w, False, True)[1], ref_gw)
json.dump(res, open(os.path.join(os.environ.get("OUT", "/tmp"), "gemm_small.json"), "w"), indent=1)
