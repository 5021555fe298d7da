#!/usr/bin/env bash
# Issue #17: native py-spy samples of gnnx's eager EdgeCNN training steps on CUDA (steady state:
# attached after warm-up), summarised on the machine. Needs the py-spy wheel in .whl (device tool).
# Usage: bash bench/pyspy_eager_step.sh [SECONDS]
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-/tmp/gnnx_pyspy}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target /tmp/spy .whl/py_spy-*.whl
python3 bench/eager_backward_threads.py loop $((${1:-10} + 30)) > "$OUT/loop.txt" 2>&1 &
sleep 25
/tmp/spy/bin/py-spy record --native --threads -r 250 -d "${1:-10}" -f raw -o /tmp/pyspy_raw.txt --pid $! 2>&1 | tail -2
wait
cat "$OUT/loop.txt"
python3 bench/pyspy_summary.py /tmp/pyspy_raw.txt 45 "backward (torch/_tensor" "_backward (gnnx" \
  "edge_mlp_max_backward (gnnx" "edge_mlp_max (gnnx" "forward (gnnx/nn/conv/edge_conv" "backend_impl" \
  "step (torch/optim" > "$OUT/pyspy_summary.txt"
