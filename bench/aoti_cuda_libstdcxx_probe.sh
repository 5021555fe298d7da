#!/usr/bin/env bash
# Second probe of the Python loader's crash (bench/aoti_cuda_gdb_probe.sh found it inside the
# package's wrapper .so: std::regex, compiled for parse_device_str, calls a locale facet through
# the wrong vtable). Prints the compile and link commands Inductor runs for a one-Linear CUDA
# package, the wrapper's dynamic section and the libstdc++ code it holds, then loads the
# package in fresh processes with candidate workarounds. Writes $OUT/aoti_libstdcxx.txt.
set -u
OUT=${OUT:-/tmp/aoti_probe}
mkdir -p "$OUT"
cat > /tmp/mk_lin2.py <<'PY'
import subprocess, torch
import torch._inductor.cpp_builder as cb
original = cb.run_compile_cmd
def logged(cmd_line, cwd):
    print("COMMAND:", cmd_line if isinstance(cmd_line, str) else " ".join(cmd_line), flush=True)
    return original(cmd_line, cwd)
cb.run_compile_cmd = logged
m = torch.nn.Linear(8, 4).cuda(); x = torch.randn(5, 8, device="cuda")
ep = torch.export.export(m, (x,))
print("compiled", torch._inductor.aoti_compile_and_package(ep, package_path="/tmp/lin2.pt2"), flush=True)
PY
cat > /tmp/load_lin2.py <<'PY'
import os, sys
if "global" in sys.argv:
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_GLOBAL)
import torch
runner = torch._inductor.aoti_load_package("/tmp/lin2.pt2")
print("loaded", flush=True)
x = torch.randn(5, 8, device="cuda")
print("ran", runner(x).shape, flush=True)
PY
{
  echo "== compilers"; which g++ c++ gcc; g++ --version | head -1; file -L "$(which g++)"; echo "CXX=${CXX:-}"
  echo "== compile"; timeout 240 python3 /tmp/mk_lin2.py 2>&1 | grep -E "COMMAND|compiled|Error" | cut -c1-3000
  rm -rf /tmp/lin2_x && mkdir -p /tmp/lin2_x && (cd /tmp/lin2_x && python3 -c "import zipfile; zipfile.ZipFile('/tmp/lin2.pt2').extractall()")
  so=$(find /tmp/lin2_x -name "*.wrapper.so" | head -1)
  echo "== readelf -d"; readelf -d "$so" | grep -E "NEEDED|FLAGS|SONAME|RPATH|RUNPATH"
  echo "== libstdc++ code defined in the wrapper (nm -C, first 15 of codecvt/locale)"; nm -C --defined-only "$so" | grep -E "codecvt|locale::|facet" | head -15
  echo "count defined std symbols:"; nm -C --defined-only "$so" | grep -c "std::"
  echo "== undefined std symbols (first 15)"; nm -C -u "$so" | grep "std::" | head -15
  for variant in "" "global"; do
    timeout 120 python3 /tmp/load_lin2.py $variant > /tmp/v.txt 2>&1; echo "== load $variant: rc=$?"; grep -E "loaded|ran|Error" /tmp/v.txt | head -3
  done
  for pre in /lib/x86_64-linux-gnu/libstdc++.so.6; do
    LD_PRELOAD=$pre timeout 120 python3 /tmp/load_lin2.py > /tmp/v.txt 2>&1; echo "== LD_PRELOAD=$pre: rc=$?"; grep -E "loaded|ran|Error" /tmp/v.txt | head -3
  done
} > "$OUT/aoti_libstdcxx.txt" 2>&1
cat "$OUT/aoti_libstdcxx.txt" | cut -c1-1500
