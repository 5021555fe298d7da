#!/usr/bin/env bash
# One GPU-machine session for the user's path: GPU tests (pytest -m cuda), then the seed
# benchmark the PyG way, all models, one process. Usage (device tool): bash bench/gpu_session.sh [models...]
set -uo pipefail
MODELS="${*:-GCN GraphSAGE GIN GAT EdgeCNN}"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-/tmp/gnnx_gpu}; mkdir -p "$OUT"
python3 -c "import pytest, xdist, hypothesis" 2>/dev/null || { python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site; }
nvidia-smi -L | tee "$OUT/env.txt"
python3 -c "import torch, triton, torch_geometric as g; print(torch.__version__, triton.__version__, g.__version__)" | tee -a "$OUT/env.txt"
if [ -z "${SKIP_TESTS:-}" ]; then
  # Every CUDA test (tests/test_devices.py: each case of tests/cases.py, kernels, packages,
  # CUDA graphs; tests/compile), over several workers; per-case outcomes to device_cases.json.
  GNNX_DEVICE_SUMMARY="$OUT/device_cases.json" timeout ${TEST_TIMEOUT:-480} python3 -m pytest -q -m cuda \
    -n ${WORKERS:-8} -p no:cacheprovider -rf tests/ ${TESTS:-} 2>&1 | tail -40 | tee "$OUT/gpu_tests.txt"
fi
[ -n "${SKIP_BENCH:-}" ] && exit 0
timeout ${BENCH_TIMEOUT:-400} python3 -m gnnx.benchmark.seed --device cuda --steps ${STEPS:-100} --out "$OUT" --models $MODELS 2>&1 | tail -60
if [ -n "${BUCKETS:-}" ]; then
  OUT="$OUT" timeout ${BUCKETS_TIMEOUT:-200} python3 bench/buckets.py 2>&1 | grep -v -i warn | tail -8
fi
