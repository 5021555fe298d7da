#!/usr/bin/env bash
# Session 31, third GPU call: the CUDA tests of the loaders and what sits on them, at the
# session's final loader code (the contract tests on CUDA: exact, temporal, induced, weighted,
# heterogeneous link batches).
set -u
export PYTHONUNBUFFERED=1
PYTHONPATH=$PWD timeout 540 python -m pytest -q -m cuda -n 8 -p no:cacheprovider tests/data \
  tests/compile/test_hetero_capture.py tests/nn/test_hetero_grouped.py 2>&1 | tail -6 > "$OUT/cuda_tests3.txt"
