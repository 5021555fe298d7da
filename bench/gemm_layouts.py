"""fp32 GEMM throughput of R-GAT's source-table product in its layouts (forward, grad x, grad W)
on the GPU: which operand layout cuBLAS runs fastest. Writes $OUT/gemm_layouts.json."""
import json
import os

import torch

torch.backends.cuda.matmul.allow_tf32 = False
dev = "cuda"
results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "rows": []}


def bench(name, fn, flops):
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(20):
        fn()
    end.record()
    torch.cuda.synchronize()
    ms = start.elapsed_time(end) / 20
    results["rows"].append({"name": name, "ms": ms, "tflops": flops / ms / 1e9})
    print(f"{name:45s} {ms:7.3f} ms {flops / ms / 1e9:6.1f} TFLOP/s", flush=True)


for n, out in ((390_000, 528), (135_000, 264), (1_900_000, 132)):
    x = torch.randn(n, 128, device=dev)
    w = torch.randn(out, 128, device=dev)
    g = torch.randn(n, out, device=dev)
    f = 2 * n * out * 128
    tag = f"N={n} out={out}"
    bench(f"{tag} fwd x @ w.t()", lambda: x @ w.t(), f)
    wt = w.t().contiguous()
    bench(f"{tag} fwd x @ wt(contig)", lambda: x @ wt, f)
    bench(f"{tag} fwd (w @ x.t()).t()", lambda: (w @ x.t()), f)
    bench(f"{tag} grad_x g @ w", lambda: g @ w, f)
    bench(f"{tag} grad_w g.t() @ x", lambda: g.t() @ x, f)
    bench(f"{tag} grad_w (x.t() @ g).t()", lambda: x.t() @ g, f)
    # split rows in chunks (a cuBLAS tile choice for shorter M)
    bench(f"{tag} fwd linear(x, w)", lambda: torch.nn.functional.linear(x, w), f)
os.makedirs(os.environ.get("OUT", "/tmp"), exist_ok=True)
with open(os.path.join(os.environ.get("OUT", "/tmp"), "gemm_layouts.json"), "w") as fh:
    json.dump(results, fh, indent=1)
