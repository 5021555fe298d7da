"""Whether the CUDA path of the grouped R-GAT layer recompiles as trimmed inputs change size,
checked on a machine without a GPU (``tests/nn/test_hetero_grouped.py``'s CUDA test
``test_grouped_trains_compiled_on_cuda_with_trimmed_inputs``, with ``gnnx.ops.project``'s Triton
backward forced on CPU tensors and no kernel run, as in ``bench/lower_rgat_on_cpu.py``).

Guards come from tracing and lowering, which need no GPU: this reproduced the recompile of
``bench/results/h100/rgat_compact_rows/run4_cuda_trimmed_recompile.txt`` (a row-block count that
could be 1 in a tensor's shape) and passes since. ``COMPACT_ROWS=1``: the compact-rows layout.
Usage: python bench/trimmed_recompiles_on_cpu.py  (prints "no recompiles" or raises Dynamo's
RecompileError naming the guard)
"""
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [HERE, os.path.join(HERE, ".."), os.path.join(HERE, "..", "tests", "nn")]


def main() -> None:
    from lower_rgat_on_cpu import stub_cuda_code_generation
    stub_cuda_code_generation()
    import test_hetero_grouped as cases

    import gnnx.ops.matmul as matmul
    import gnnx.ops.triton_matmul as kernels
    from gnnx.nn import hetero_gat

    def on_kernels(grad, x, weight, need_x=True, need_weight=True):  # the Triton backward whatever the device
        grad_x, grad_weight = kernels.sparse_rows_grads(grad, x, weight, need_x, need_weight)
        return (grad_x if need_x else None), (grad_weight if need_weight else None)

    matmul.project_grads = on_kernels
    hetero_gat.ENABLED, hetero_gat.COMPACT_ROWS = True, os.environ.get("COMPACT_ROWS", "0") == "1"
    conv = cases._model()

    compiled = torch.compile(cases.trimmed_layer(conv), fullgraph=True, dynamic=True)
    for i, x, edge_index, keep in cases.trimmed_batches("cpu"):  # the CUDA test's inputs
        with torch._dynamo.config.patch(error_on_recompile=i == 2):
            out = compiled(x, edge_index, keep)
            sum(v.square().sum() for v in out.values()).backward()
    print("no recompiles")


if __name__ == "__main__":
    main()
