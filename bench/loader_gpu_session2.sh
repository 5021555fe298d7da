#!/usr/bin/env bash
# Session 31, second GPU call: CUDA tests of the loaders (the new contract tests on CUDA included),
# temporal heterogeneous sampling on the device (PyG's too if pyg-lib is there), and the exact
# heterogeneous sampling time against session 30's code again, with more batches.
set -u
export PYTHONUNBUFFERED=1
PYTHONPATH=$PWD python -c "import importlib.util as u; print('pyg_lib installed:', u.find_spec('pyg_lib') is not None)" > "$OUT/env2.txt"
PYTHONPATH=$PWD timeout 240 python -m pytest -q -m cuda -n 8 -p no:cacheprovider tests/data tests/compile/test_hetero_capture.py \
  2>&1 | tail -8 > "$OUT/cuda_tests2.txt"
PYTHONPATH=$PWD timeout 200 python bench/temporal_sampling.py --scale 1 --batches 10 --rounds 2 --device cuda \
  --out "$OUT/temporal_sampling_cuda.json" 2>&1 | tail -3
for round in 1 2 3; do
  PYTHONPATH=$PWD/old_e5fb1a6 python bench/hetero_sampling_cpu.py --scale 1 --batches 40 --device cuda \
    --label "e5fb1a6 (session 30)" --out "$OUT/hetero_sampling_gpu2.json" | tail -1
  PYTHONPATH=$PWD python bench/hetero_sampling_cpu.py --scale 1 --batches 40 --device cuda \
    --label "session 31" --out "$OUT/hetero_sampling_gpu2.json" | tail -1
done
