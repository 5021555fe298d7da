#!/usr/bin/env bash
# Issue #17 on the GPU machine (device tool): the CUDA tests (point-cloud kernels and every device test), then
# benchmarks. Usage: STAGE=tests|knn|calorimeter|profile|tune|edgeprof|edgecnn|aoti|split OUT=... bash bench/pointcloud_gpu_session.sh
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-/tmp/gnnx_gpu}; mkdir -p "$OUT"
python3 -c "import pytest, xdist, hypothesis" 2>/dev/null || { python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site; }
for stage in ${STAGE:-tests knn calorimeter}; do
  echo "== $stage"
  case $stage in
    tests) timeout 300 python3 -m pytest -q -m cuda -n 8 -p no:cacheprovider -rf tests/ops/test_point_cloud_kernels.py \
             tests/test_devices.py 2>&1 | tail -25 | tee "$OUT/pointcloud_tests.txt" ;;
    knn) timeout 200 env OUT="$OUT" python3 bench/knn_gpu.py 2>&1 | tail -12 ;;
    calorimeter) timeout 400 python3 bench/calorimeter_latency.py --cpu-hits 10000 50000 --repeats 15 --package --out "$OUT" 2>&1 | tail -12 ;;
    profile) timeout 200 python3 bench/profile_calorimeter.py --hits 50000 --out "$OUT" 2>&1 | grep -v -i warn | tail -80 ;;
    tune) timeout 300 env OUT="$OUT" python3 bench/tune_pointcloud.py 2>&1 | grep -v -i warn | tail -60 ;;
    edgeprof) timeout 300 python3 bench/profile_edgecnn.py --out "$OUT" 2>&1 | grep -v -i warn | tail -70 ;;
    edgecnn) timeout 240 env OUT="$OUT" python3 bench/seed_table.py EdgeCNN 2>&1 | tail -8
             timeout 240 env OUT="$OUT" EDGE_MLP=unfused python3 bench/seed_table.py EdgeCNN 2>&1 | tail -8
             timeout 200 python3 -m gnnx.benchmark.seed --device cuda --models EdgeCNN --out "$OUT" 2>&1 | tail -8 ;;
    split) timeout 200 python3 -m pytest -q -m cuda -n 8 -p no:cacheprovider -rf tests/ops/test_point_cloud_kernels.py \
             -k "fused_edge_mlp or edge_cnn" 2>&1 | tail -5 | tee "$OUT/edge_mlp_split_tests.txt"
           timeout 300 env OUT="$OUT" python3 bench/edge_mlp_winner_rows.py 2>&1 | grep -v -i warn | tail -14
           # then, e.g.: EDGE_MLP_CONFIG='{"bwd_atomic_b": true}' python3 bench/seed_table.py EdgeCNN (out to its own folder)
           ;;
    aoti) timeout 200 bash bench/aoti_cuda_probe2.sh > "$OUT/aoti_probe.txt" 2>&1; tail -30 "$OUT/aoti_probe.txt" ;;
  esac
done
