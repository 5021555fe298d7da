"""Does an AOTInductor CUDA package load and run here? Compile in one process, load in
another; a plain torch MLP (no gnnx) and a gnnx GCN with its Triton kernels (device run).
Usage: python bench/aoti_cuda_probe.py compile|load mlp|gcn"""
import faulthandler
import sys

import torch

faulthandler.enable()
stage, which = sys.argv[1], sys.argv[2]
path = f"/tmp/probe_{which}.pt2"
torch.manual_seed(0)
x, ei = torch.randn(50, 8, device="cuda"), torch.randint(50, (2, 200), device="cuda")
if which == "mlp":
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).cuda().eval()
    args, dyn = (x,), ({0: torch.export.Dim("n", min=2)},)
else:
    from gnnx.nn import GCN
    model = GCN(8, 16, 2, 4).cuda().eval()
    args, dyn = (x, ei), ({0: torch.export.Dim("n", min=2)}, {1: torch.export.Dim("e", min=1)})
if stage == "compile":
    ep = torch.export.export(model, args, dynamic_shapes=dyn)
    print("ops:", sorted({str(n.target) for n in ep.graph.nodes if "triton" in str(n.target) or "gnnx" in str(n.target)}))
    torch._inductor.aoti_compile_and_package(ep, package_path=path)
    torch.save(model.state_dict(), path + ".sd")
    print(which, "compiled", flush=True)
else:
    model.load_state_dict(torch.load(path + ".sd"))
    runner = torch._inductor.aoti_load_package(path)
    print(which, "loaded", flush=True)
    print(which, "ran, max diff", float((runner(*args) - model(*args)).abs().max()), flush=True)
