#!/usr/bin/env bash
# Session 31, fourth GPU call: CUDA tests after the explain-mode change to AttentiveFP and
# MessagePassing.explain_message, and the loaders again at the final code.
set -u
export PYTHONUNBUFFERED=1
PYTHONPATH=$PWD timeout 540 python -m pytest -q -m cuda -n 8 -p no:cacheprovider tests/explain tests/nn/test_attentive_fp.py \
  tests/data tests/compile/test_hetero_capture.py 2>&1 | tail -6 > "$OUT/cuda_tests4.txt"
# the explain and AttentiveFP tests that are not CUDA-marked, on this machine's torch 2.11
PYTHONPATH=$PWD timeout 200 python -m pytest -q -n 8 -p no:cacheprovider tests/explain tests/nn/test_attentive_fp.py \
  2>&1 | tail -3 > "$OUT/explain_tests_torch211.txt"
