"""GPU correctness check of the Triton path (run on the lent GPU machine, not in CI).

1. Kernels: ``csr_spmm_sum``/``max`` (+ mean, min) with no, scalar and per-head weights,
   forward and backward, against the ATen reference on fresh random inputs; the caching
   allocator is filled with NaN before each run so unwritten outputs show. The same for
   the fused GAT/GATv2 attention kernel (``attention``).
2. Layers and models (tests/cases.py): CUDA eager (Triton) == CPU reference; compiled
   (fullgraph, dynamic, no recompile on a third size) == eager.
3. One export + AOTInductor CUDA package of all cases: equals eager, and the package's
   generated code holds the gnnx Triton kernels.
Writes $OUT/gpu_check.json and prints a summary table.
"""
import json
import os
import sys
import time
import traceback
import zipfile

import torch

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests"))
import gnnx  # noqa: E402
from gnnx import ops  # noqa: E402

DEV = "cuda"
results = []


def record(name, ok, detail=""):
    results.append({"check": name, "ok": bool(ok), "detail": str(detail)[:500]})
    print(("PASS " if ok else "FAIL ") + name + (f"  {detail}" if detail and not ok else ""), flush=True)


def poison():
    buf = torch.full((64 * 1024 * 1024,), float("nan"), device=DEV)
    del buf


def probe(out):
    """A fixed random output gradient: unlike out.square().mean(), it does not vanish
    for outputs of constant norm (SAGEConv(normalize=True))."""
    gen = torch.Generator(device=out.device).manual_seed(7)
    return torch.randn(out.shape, device=out.device, generator=gen)


def rel_err(a, b):
    a, b = a.double(), b.double()
    return float((a - b).norm() / b.norm().clamp(min=1e-30))


def check_kernels():
    for reduce in ("sum", "mean", "max", "min"):
        for weights in ("none", "scalar", "heads"):
            for n, e in ((37, 300), (5000, 90000)):
                try:
                    gen = torch.Generator(device=DEV).manual_seed(n + e)
                    heads = 4
                    x = torch.randn(n, heads, 16, device=DEV, generator=gen)
                    ei = torch.randint(n, (2, e), device=DEV, generator=gen)
                    ei[:, :5] = 0  # some duplicates
                    w = None
                    if weights == "scalar":
                        w = torch.rand(e, device=DEV, generator=gen) + 0.1
                    elif weights == "heads":
                        w = torch.rand(e, heads, device=DEV, generator=gen) + 0.1
                    x1 = x.clone().requires_grad_()
                    w1 = w.clone().requires_grad_() if w is not None else None
                    x2 = x.clone().requires_grad_()
                    w2 = w.clone().requires_grad_() if w is not None else None
                    poison()
                    out = ops.spmm(x1, ei, n, w1, reduce)
                    ref = ops.spmm_reference(x2, ei, n, w2, reduce)
                    grad = torch.randn_like(ref)
                    poison()
                    out.backward(grad)
                    ref.backward(grad)
                    errs = [rel_err(out, ref), rel_err(x1.grad, x2.grad)]
                    if w is not None:
                        errs.append(rel_err(w1.grad, w2.grad))
                    nan = any(torch.isnan(t).any().item() for t in (out, x1.grad))
                    record(f"spmm {reduce} w={weights} n={n}", max(errs) < 1e-4 and not nan, errs)
                except Exception as exc:  # noqa: BLE001
                    record(f"spmm {reduce} w={weights} n={n}", False, repr(exc))


def check_attention():
    """Fused GAT/GATv2 attention (Triton) against the ATen reference, forward and backward."""
    from gnnx.ops.attention import attention_scores

    def reference(x, ei, n, terms, bias):
        score = attention_scores(x, ei[0], ei[1], terms.get("score_src"), terms.get("score_dst"), terms.get("x_dst"),
                                 terms.get("att"), bias, 0.2)
        return ops.spmm_reference(x, ei, n, ops.segment_softmax(score, ei[1], n), "sum")

    for v2 in (False, True):
        for heads, channels in ((1, 64), (4, 16), (2, 5), (1, 200)):
            for n, e in ((37, 300), (5000, 90000)):
                name = f"attention {'gatv2' if v2 else 'gat'} H={heads} C={channels} n={n}"
                try:
                    gen = torch.Generator(device=DEV).manual_seed(n + heads + channels)
                    ei = torch.randint(n, (2, e), device=DEV, generator=gen)
                    ei = torch.cat([ei, torch.arange(n, device=DEV).repeat(2, 1)], 1)  # every row non-empty
                    x = torch.randn(n, heads, channels, device=DEV, generator=gen)
                    bias = torch.randn(ei.size(1), heads, device=DEV, generator=gen)
                    bias[:7] = float("-inf")  # masked edges
                    if v2:
                        terms = {"x_dst": torch.randn(n, heads, channels, device=DEV, generator=gen),
                                 "att": torch.randn(1, heads, channels, device=DEV, generator=gen)}
                    else:
                        terms = {"score_src": torch.randn(n, heads, device=DEV, generator=gen),
                                 "score_dst": torch.randn(n, heads, device=DEV, generator=gen)}
                    leaves = [[t.clone().requires_grad_() for t in [x, bias] + list(terms.values())] for _ in range(2)]

                    def run(fn, ls):
                        return fn(ls[0], dict(zip(terms, ls[2:])), ls[1])

                    poison()
                    got = run(lambda x_, t, b: ops.attention(x_, ei, n, edge_bias=b, **t), leaves[0])
                    ref = run(lambda x_, t, b: reference(x_, ei, n, t, b), leaves[1])
                    grad = torch.randn_like(ref)
                    poison()
                    got.backward(grad)
                    ref.backward(grad)
                    errs = [rel_err(got, ref)] + [rel_err(a.grad.nan_to_num(), b.grad.nan_to_num())
                                                  for a, b in zip(leaves[0], leaves[1])]
                    nan = bool(torch.isnan(got).any() or torch.isnan(leaves[0][0].grad).any())
                    record(name, max(errs) < 1e-4 and not nan, errs)
                except Exception:  # noqa: BLE001
                    record(name, False, traceback.format_exc()[-400:])


def check_layers():
    from cases import ALL, call, random_graph

    sizes = [(20, 64), (33, 101), (47, 150)]
    only = os.environ.get("GPU_CHECK_CASES")  # comma-separated case ids, to check a subset
    for case in ALL if not only else [c for c in ALL if c.id in only.split(",")]:
        try:
            cpu_module = case.gnnx().eval()
            gpu_module = case.gnnx().to(DEV).eval()
            gpu_module.load_state_dict(cpu_module.state_dict())
            inputs = random_graph(300, 3000, seed=1)
            graph = gnnx.Graph(inputs[1], 300)
            with torch.no_grad():
                ref = call(cpu_module, case, *inputs)
                poison()
                got = call(gpu_module, case, *[t.to(DEV) for t in inputs])
                poison()
                got_graph = call(gpu_module, case, inputs[0].to(DEV), graph.to(DEV), inputs[2].to(DEV), inputs[3].to(DEV))
            err = max(rel_err(got.cpu(), ref), rel_err(got_graph.cpu(), ref))
            record(f"layer {case.id} cuda==cpu", err < 1e-4, err)
            torch._dynamo.reset()
            module = case.gnnx().to(DEV).train()
            compiled = torch.compile(module, fullgraph=True, dynamic=True)
            worst = 0.0
            for i, size in enumerate(sizes):
                x, ei, w, a = [t.to(DEV) for t in random_graph(*size, seed=i)]
                x1 = x.clone().requires_grad_()
                e_out = call(module, case, x1, ei, w, a)
                e_out.backward(probe(e_out))
                e_grad = x1.grad
                x2 = x.clone().requires_grad_()
                if i == 2:
                    with torch._dynamo.config.patch(error_on_recompile=True):
                        c_out = call(compiled, case, x2, ei, w, a)
                else:
                    c_out = call(compiled, case, x2, ei, w, a)
                c_out.backward(probe(c_out))
                worst = max(worst, rel_err(c_out, e_out), rel_err(x2.grad, e_grad))
            record(f"layer {case.id} compiled==eager (cuda, train, no recompile)", worst < 1e-4, worst)
        except Exception:  # noqa: BLE001
            record(f"layer {case.id}", False, traceback.format_exc()[-400:])



def check_aoti():
    from cases import ALL, Zoo, random_graph

    try:
        from torch.export import Dim

        zoo = Zoo(ALL).to(DEV).eval()
        nodes, edges = Dim("num_nodes", min=2), Dim("num_edges", min=1)
        dyn = {"x": {0: nodes}, "edge_index": {1: edges}, "edge_weight": {0: edges}, "edge_attr": {0: edges}}
        ep = torch.export.export(zoo, tuple(t.to(DEV) for t in random_graph(10, 30)), dynamic_shapes=dyn)
        targets = sorted({str(n.target) for n in ep.graph.nodes if n.op == "call_function"})
        has_triton = any("triton" in t or "gnnx" in t for t in targets)
        record("export cuda holds triton kernels", has_triton, [t for t in targets if "triton" in t or "gnnx" in t])
        t0 = time.time()
        path = torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/zoo_cuda.pt2")
        compile_s = time.time() - t0
        runner = torch._inductor.aoti_load_package(path)
        worst = 0.0
        for size in [(2, 1), (64, 300), (2000, 9000)]:
            inputs = tuple(t.to(DEV) for t in random_graph(*size, seed=size[0]))
            with torch.no_grad():
                for a, b in zip(runner(*inputs), zoo(*inputs)):
                    worst = max(worst, rel_err(a, b))
        with zipfile.ZipFile(path) as zf:
            names = zf.namelist()
            sources = [n for n in names if n.endswith((".cpp", ".wrapper.cpp", ".py"))]
            text = " ".join(zf.read(n).decode(errors="ignore") for n in sources)
            kernels_named = sorted({k for k in ("_spmm_kernel", "_sddmm_kernel", "_attention_kernel") if k in text or any(k in n for n in names)})
            cubins = [n for n in names if n.endswith((".cubin", ".hsaco", ".fatbin"))]
        record(f"aoti cuda package == eager (compile {compile_s:.0f}s)", worst < 1e-4, worst)
        record("aoti cuda package carries gnnx triton kernels", bool(kernels_named),
               {"kernels": kernels_named, "cubins": len(cubins)})
    except Exception:  # noqa: BLE001
        record("export/aoti cuda", False, traceback.format_exc()[-600:])


if __name__ == "__main__":
    print(torch.__version__, torch.cuda.get_device_name(), flush=True)
    parts = sys.argv[1:] or ["kernels", "attention", "layers", "aoti"]
    for part in parts:
        {"kernels": check_kernels, "attention": check_attention, "layers": check_layers, "aoti": check_aoti}[part]()
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": results,
           "passed": sum(r["ok"] for r in results), "failed": sum(not r["ok"] for r in results)}
    os.makedirs(os.environ.get("OUT", "/tmp"), exist_ok=True)
    with open(os.path.join(os.environ.get("OUT", "/tmp"), f"gpu_check_{'_'.join(parts)}.json"), "w") as f:
        json.dump(out, f, indent=2)
    print(f"{out['passed']} passed, {out['failed']} failed")
