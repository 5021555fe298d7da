#!/usr/bin/env bash
# Why torch's Python loader of AOTInductor CUDA packages (aoti_load_package) dies with SIGSEGV on
# the lent GPU image while the C++ loader of the same torch runs the same packages (issue #17).
# A one-Linear CUDA package is compiled, then loaded in fresh processes: under cuda-gdb (the image
# has no gdb) for the native backtrace and the libraries loaded at the crash, and in variants
# (CUDA initialised first, the pybind loader called directly, the libraries a plain `import
# torch` maps). Writes $OUT/aoti_gdb.txt and $OUT/aoti_variants.txt.
set -u
OUT=${OUT:-/tmp/aoti_probe}
mkdir -p "$OUT"
cat > /tmp/mk_lin.py <<'PY'
import torch
m = torch.nn.Linear(8, 4).cuda(); x = torch.randn(5, 8, device="cuda")
ep = torch.export.export(m, (x,))
print("compiled", torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/lin.pt2"), flush=True)
PY
cat > /tmp/load_lin.py <<'PY'
import sys, torch
variant = sys.argv[1] if len(sys.argv) > 1 else "default"
if variant == "cuda-first":
    torch.zeros(1, device="cuda"); torch.cuda.synchronize()
if variant == "pybind-direct":
    loader = torch._C._aoti.AOTIModelPackageLoader("/tmp/lin.pt2", "model", False, 1, 0)
    print("loaded", flush=True)
    print("ran", loader.run([torch.randn(5, 8, device="cuda")])[0].shape, flush=True)
    sys.exit(0)
runner = torch._inductor.aoti_load_package("/tmp/lin.pt2")
print("loaded", flush=True)
print("ran", runner(torch.randn(5, 8, device="cuda")).shape, flush=True)
PY
timeout 240 python3 /tmp/mk_lin.py 2>&1 | tail -1
{
  echo "== native backtrace of the default load (cuda-gdb, batch)"
  timeout 240 cuda-gdb -q -batch -ex "set pagination off" -ex "set confirm off" -ex run -ex "bt 60" \
    -ex "info registers rip" -ex "x/8i \$pc-16" -ex "info sharedlibrary" --args python3 /tmp/load_lin.py default 2>&1 \
    | grep -v "^\[New Thread\|^\[Thread .* exited\]" | head -400
} > "$OUT/aoti_gdb.txt" 2>&1
{
  for variant in default cuda-first pybind-direct; do
    timeout 120 python3 -X faulthandler /tmp/load_lin.py $variant > /tmp/variant.txt 2>&1
    echo "== $variant: rc=$?"; tail -12 /tmp/variant.txt
  done
  echo "== libraries a plain import torch + CUDA init maps"
  python3 -c "import torch; torch.zeros(1, device='cuda'); import re; print('\n'.join(sorted({l.split()[-1] for l in open('/proc/self/maps') if '.so' in l})))"
  echo "== package contents"; python3 -c "import zipfile; print('\n'.join(zipfile.ZipFile('/tmp/lin.pt2').namelist()))"
  so=$(python3 -c "import zipfile; print([n for n in zipfile.ZipFile('/tmp/lin.pt2').namelist() if n.endswith('.so')][0])")
  rm -rf /tmp/lin_x && mkdir -p /tmp/lin_x && (cd /tmp/lin_x && python3 -c "import zipfile; zipfile.ZipFile('/tmp/lin.pt2').extractall()")
  echo "== ldd of $so"; ldd "/tmp/lin_x/$so"
  echo "== torch build"; python3 -c "import torch; print(torch.__version__, torch.__file__); print(torch.__config__.show())"
} > "$OUT/aoti_variants.txt" 2>&1
echo "probe done"
