#!/usr/bin/env bash
# Session 31 on the GPU machine: CUDA tests of the sampling loaders (and what sits on them),
# then heterogeneous sampling time on the device, this checkout against session 30's
# (an untracked copy of e5fb1a6's gnnx in old_e5fb1a6/), alternating.
set -u
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$OUT/env.txt"
PYTHONPATH=$PWD python -c "import torch, triton, torch_geometric as g; print('torch', torch.__version__, 'triton', triton.__version__, 'pyg', g.__version__)" >> "$OUT/env.txt"
PYTHONPATH=$PWD timeout 300 python -m pytest -q -m cuda -n 8 -p no:cacheprovider tests/data tests/compile/test_hetero_capture.py \
  tests/nn/test_hetero_grouped.py 2>&1 | tail -25 > "$OUT/cuda_tests.txt"
for round in 1 2 3; do
  PYTHONPATH=$PWD/old_e5fb1a6 python bench/hetero_sampling_cpu.py --scale 1 --batches 20 --device cuda \
    --label "e5fb1a6 (session 30)" --out "$OUT/hetero_sampling_gpu.json"
  PYTHONPATH=$PWD python bench/hetero_sampling_cpu.py --scale 1 --batches 20 --device cuda \
    --label "session 31" --out "$OUT/hetero_sampling_gpu.json"
done
