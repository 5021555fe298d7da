#!/usr/bin/env bash
# Issue #16 on the GPU machine (device tool), one call per stage so each fits the 600 s limit:
#   STAGE=tests   the heterogeneous CUDA tests (grouped R-GAT, devices' heterogeneous cases)
#   STAGE=rgat    bench/rgat.py: the user's path and the trimmed rows, both libraries
#                 (CONFIGS='"a" "b"' picks rows)
#   STAGE=static  bench/rgat.py: per-hop static batches, trimmed, with and without CUDA graphs
#   STAGE=compact the grouped-projection CUDA tests (row_groups, add_rows_in_use, a failed capture's
#                 fallback), then compact rows against the node tables and PyG eager, trimmed, profiled,
#                 timed on a second pass over the batches (session 22 timed first visits, batches after
#                 the first 2: 33 ms for both rows against session 20's 10.2-10.6 on second passes)
#                 (a failed capture's traceback lands in rgat_capture_error.txt)
#   STAGE=compactbench  the compact stage's timing alone (no tests), PyG compiled added (session 23:
#                 compact 8.1 ms against node tables 10.5, so compact rows became the CUDA default)
#   STAGE=skipab  the trimmed step with and without the compact rows' zero-gradient skipping (session 25
#                 measured session 24's version 8.8 against 8.1 ms and changed it; two rows fill a call)
#   STAGE=skipab_untrimmed  the same A/B untrimmed (the user's path: rows beyond the seeds' hops carry
#                 no gradient; session 26 measured the trimmed step 8.6 with the skip against 8.0 without)
#   STAGE=pyg     the trimmed step against PyG eager and compiled (GNNX_ROW picks gnnx's row)
#   STAGE=changed25  the CUDA tests of what session 25 changed without a GPU left to run them: the
#                 grouped projection's per-chunk skip, gnnx.compile's capture retry (homogeneous
#                 failed-capture test, heterogeneous capture), the grouped R-GAT layer, EdgeConv's
#                 fused path (now left for propagate under message hooks), the devices' CPU/CUDA cases
#   STAGE=changed27  the CUDA tests of session 27's second derivatives (every op and layer under
#                 create_graph, gnnx/ops/second_order.py) with the ops', devices' and compile tests
# Owed after session 26: the trimmed step's PyG-compiled row (STAGE=pyg).
# Usage: STAGE=... OUT=... bash bench/hetero_gpu_session.sh
set -uo pipefail
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
OUT=${OUT:-/tmp/gnnx_gpu}; mkdir -p "$OUT"
python3 -c "import pytest, xdist, hypothesis" 2>/dev/null || { python3 -m pip install -q --no-index --no-deps --target /tmp/site .whl/*.whl && export PYTHONPATH=$PYTHONPATH:/tmp/site; }
RGAT_ROWS='"pyg eager" "pyg compiled" "gnnx eager" "gnnx.compile" "pyg compiled (trimmed)" "gnnx.compile (trimmed)"'
RGAT="timeout ${BENCH_TIMEOUT:-560} python3 bench/rgat.py --batches ${BATCHES:-10} --warmup 3 --out $OUT"  # a stage adds its folder
for stage in ${STAGE:-tests}; do
  echo "== $stage"
  case $stage in
    tests) timeout 300 python3 -m pytest -q -m cuda -n 8 -p no:cacheprovider -p no:logging -rf tests/nn/test_hetero_grouped.py \
             tests/test_devices.py tests/data/test_hetero_sampling.py -k "hetero or Hetero or grouped or cuda_graphs" 2>&1 | tail -8 | tee "$OUT/hetero_tests.txt" ;;
    rgat) eval "$RGAT/rgat --profile --configs ${CONFIGS:-$RGAT_ROWS}" 2>&1 | grep -v -i warn | tail -12 ;;
    static) $RGAT/static --configs "pyg eager" "pyg compiled" "pyg compiled (static, trimmed)" "gnnx.compile (static, trimmed)" \
              "pyg compiled (static, trimmed, cuda graphs)" "gnnx.compile (static, trimmed, cuda graphs)" 2>&1 | grep -v -i warn | tail -12 ;;
    compact) timeout 200 python3 -m pytest -q -m cuda -n 8 -p no:cacheprovider -p no:logging -rf \
               tests/ops/test_grouped_project.py tests/nn/test_hetero_grouped.py tests/compile/test_hetero_capture.py \
               tests/compile/test_gnnx_compile.py -k "row_groups or add_rows or grouped or failed_capture" 2>&1 | tail -8 \
               | tee "$OUT/compact_tests.txt"
             timeout 380 python3 bench/rgat.py --batches ${BATCHES:-6} --second-pass --out "$OUT" --profile --configs \
               "gnnx.compile (trimmed)" "gnnx.compile (trimmed, node tables)" "pyg eager (trimmed)" 2>&1 | grep -v -i warn | tail -8 ;;
    compactbench) timeout 560 python3 bench/rgat.py --batches ${BATCHES:-6} --second-pass --out "$OUT" --profile --configs \
               "gnnx.compile (trimmed)" "gnnx.compile (trimmed, node tables)" "pyg eager (trimmed)" "pyg compiled (trimmed)" \
               2>&1 | grep -v -i warn | tail -8 ;;
    skipab) timeout 580 python3 bench/rgat.py --batches ${BATCHES:-5} --second-pass --out "$OUT/skipab" --configs \
               "gnnx.compile (trimmed)" "gnnx.compile (trimmed, no skip)" \
               2>&1 | grep -v -i warn | tail -8 ;;
    skipab_untrimmed) timeout 560 python3 bench/rgat.py --batches ${BATCHES:-4} --second-pass --out "$OUT/skipab_untrimmed" \
               --configs "gnnx.compile" "gnnx.compile (no skip)" 2>&1 | grep -v -i warn | tail -8 ;;
    pyg) timeout 580 python3 bench/rgat.py --batches ${BATCHES:-5} --second-pass --out "$OUT/pyg" --configs \
           "${GNNX_ROW:-gnnx.compile (trimmed)}" "pyg eager (trimmed)" "pyg compiled (trimmed)" 2>&1 | grep -v -i warn | tail -8 ;;
    changed25) timeout 400 python3 -m pytest -q -m cuda -n 14 -p no:cacheprovider -p no:logging -rf \
                 tests/ops/test_grouped_project.py tests/ops/test_triton_writes.py tests/nn/test_hetero_grouped.py \
                 tests/compile/test_hetero_capture.py tests/compile/test_gnnx_compile.py \
                 tests/ops/test_point_cloud_kernels.py tests/test_devices.py 2>&1 | tail -8 \
                 | tee "$OUT/changed25_tests.txt" ;;
    changed27) timeout 560 python3 -m pytest -q -m cuda -n 14 -p no:cacheprovider -p no:logging -rfs \
                 tests/ops tests/nn/test_hetero_grouped.py tests/compile tests/test_devices.py 2>&1 | tail -12 \
                 | tee "$OUT/changed27_tests.txt" ;;
  esac
done
