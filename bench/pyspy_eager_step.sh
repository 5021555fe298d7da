#!/usr/bin/env bash
# Issue #17: native py-spy samples of gnnx's eager EdgeCNN training steps on CUDA (steady state:
# attached after warm-up), summarised on the machine. Needs the py-spy wheel in .whl (device tool).
# Usage: [MODEL=GAT] bash bench/pyspy_eager_step.sh [SECONDS] [train|infer]
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-/tmp/gnnx_pyspy}; mkdir -p "$OUT"
python3 -m pip install -q --no-index --no-deps --target /tmp/spy .whl/py_spy-*.whl
KIND=${2:-train}${MODEL:+_$MODEL}
python3 bench/eager_backward_threads.py loop $((${1:-10} + 30)) "${2:-train}" > "$OUT/loop_$KIND.txt" 2>&1 &
sleep 25
/tmp/spy/bin/py-spy record --native --threads -r 250 -d "${1:-10}" -f raw -o /tmp/pyspy_raw.txt --pid $! 2>&1 | tail -2
wait
cat "$OUT/loop_$KIND.txt"
python3 bench/pyspy_summary.py /tmp/pyspy_raw.txt 45 "forward (gnnx/nn/models/basic_gnn" "__call__ (gnnx/nn/sparse_input" \
  "__call__ (gnnx/nn/message_passing" "forward (gnnx/nn/conv/edge_conv" "edge_conv_max (gnnx" \
  "forward (gnnx/ops/edge_mlp" "launch_forward (gnnx" "backward (gnnx/ops/edge_mlp" "launch_backward (gnnx" \
  "_eager_node_halves (gnnx" "_node_halves_backward (gnnx" "train_loop (eager" "step (torch/optim" \
  "forward (gnnx/nn/conv/gat" "_attend (gnnx" "fused_attention (gnnx" "gat_attention (gnnx" "_backward (gnnx/ops/triton_attention" \
  "attention (gnnx/ops/attention" "_launch_spmm (gnnx" > "$OUT/pyspy_summary_$KIND.txt"
