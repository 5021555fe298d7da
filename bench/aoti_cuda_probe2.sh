#!/usr/bin/env bash
# Where the AOTInductor Python loader crashes on the lent GPU image (issue #17): a one-layer
# Linear CUDA package compiled in the same environment, loaded with the default arguments,
# device_index=0 and run_single_threaded=True. Found on the H200 image (torch 2.11+cu130),
# 2026-11-26: every variant dies with a segmentation fault inside aoti_load_package itself
# (torch/_inductor/__init__.py:267, the C++ AOTIModelPackageLoader constructor), before any
# kernel runs; the package holds the wrapper .so and the Triton cubin as expected.
set -x
which cmake g++ c++ nvcc gdb 2>&1 | head
python3 -c "import torch; print(torch.__version__, torch.version.cuda); print(torch.cuda.get_device_name())"
nvidia-smi --query-gpu=driver_version --format=csv
cat > /tmp/mk.py <<'PY'
import torch
m = torch.nn.Linear(8, 4).cuda(); x = torch.randn(5, 8, device="cuda")
ep = torch.export.export(m, (x,))
p = torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/lin.pt2")
print("compiled", p, flush=True)
PY
timeout 200 python3 /tmp/mk.py 2>&1 | tail -2
for variant in "aoti_load_package('/tmp/lin.pt2')" "aoti_load_package('/tmp/lin.pt2', device_index=0)" "aoti_load_package('/tmp/lin.pt2', run_single_threaded=True)"; do
  timeout 100 python3 -X faulthandler -c "
import torch
r = torch._inductor.$variant
print('loaded', flush=True)
print('ran', r(torch.randn(5, 8, device='cuda')).shape, flush=True)" 2>&1 | tail -4
  echo "rc=$? for $variant"
done
timeout 100 python3 -X faulthandler -c "
import torch, zipfile
z = zipfile.ZipFile('/tmp/lin.pt2'); print([n for n in z.namelist()][:30])
" 2>&1 | tail -3
