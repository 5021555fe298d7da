"""Does any AOTInductor CUDA package load on this machine? A plain torch MLP, no gnnx."""
import faulthandler

import torch

faulthandler.enable()
m = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 4)).cuda().eval()
x = torch.randn(10, 8, device="cuda")
ep = torch.export.export(m, (x,), dynamic_shapes=({0: torch.export.Dim("n", min=2)},))
path = torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/mlp.pt2")
print("compiled", flush=True)
r = torch._inductor.aoti_load_package(path)
print("loaded", flush=True)
print("ran", float((r(x) - m(x)).abs().max()), flush=True)
