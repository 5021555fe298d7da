"""Which AOTInductor CUDA packages the Python loader can load on this machine: each variant
in its own process (a crash in the loader kills the process). Writes one line per variant."""
import subprocess
import sys

VARIANTS = {
    "plain-linear": "torch.nn.Linear(8, 4)",
    "gcn-no-metadata": "GCN",
    "gcn-gnnx-metadata": "GCN+meta",
}

CHILD = r'''
import sys, torch, gnnx, json
sys.path.insert(0, "tests")
kind = sys.argv[1]
dev = "cuda"
if kind == "torch.nn.Linear(8, 4)":
    model = torch.nn.Linear(8, 4).to(dev); inputs = (torch.randn(5, 8, device=dev),)
    ep = torch.export.export(model, inputs)
else:
    model = gnnx.nn.GCN(8, 16, 2, 4).to(dev).eval()
    x = torch.randn(10, 8, device=dev); ei = torch.randint(0, 10, (2, 30), device=dev)
    inputs = (x, ei)
    ep = gnnx.export.export(model, inputs)
if kind.endswith("+meta"):
    path = gnnx.export.compile_package(ep, "/tmp/probe.pt2", device=dev)
else:
    path = torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/probe.pt2")
print("compiled", flush=True)
runner = torch._inductor.aoti_load_package(path)
print("loaded", flush=True)
out = runner(*inputs)
print("ran", float((out - model(*inputs)).abs().max()), flush=True)
'''

LOAD_ONLY = r'''
import torch
runner = torch._inductor.aoti_load_package("/tmp/probe.pt2")
print("loaded", flush=True)
x = torch.randn(5, 8, device="cuda")
print("ran", tuple(runner(x).shape), flush=True)
'''

if "--fresh" in sys.argv:  # compile in one process, load in a fresh one that compiled nothing
    subprocess.run([sys.executable, "-c", CHILD, "torch.nn.Linear(8, 4)"], capture_output=True)
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", LOAD_ONLY], capture_output=True, text=True)
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    print(f"load in a fresh process: rc={proc.returncode} last={tail[-2:]}", flush=True)
    proc = subprocess.run(["python3", "-c", "import torch; print(torch.version.cuda, torch.backends.cudnn.version())"],
                          capture_output=True, text=True)
    print("cuda", proc.stdout.strip(), flush=True)
    sys.exit(0)

for name, kind in VARIANTS.items():
    proc = subprocess.run([sys.executable, "-X", "faulthandler", "-c", CHILD, kind], capture_output=True, text=True)
    tail = (proc.stdout + proc.stderr).strip().splitlines()
    print(f"{name}: rc={proc.returncode} last={tail[-3:] if tail else ''}", flush=True)
