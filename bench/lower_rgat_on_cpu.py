"""Lower (and generate code for) the R-GAT training step with the grouped-projection Triton ops
on a machine without a GPU, to catch Inductor lowering errors before spending device time.

Needs ``triton`` installed beside the CPU torch. The Triton ops are forced on CPU tensors and a
stub driver stands in for CUDA, so Inductor lowers and generates code for the forward and (with
``force_non_lazy_backward_lowering``) the backward graph; Inductor's kernels (its own and the
user-defined ones) are generated but neither built nor run, so the step's numbers mean nothing. It caught the stride-order assertion of
``bench/results/h100/rgat_compact_rows/README.md`` (a view with a symbolic trimmed size saved for
the backward). ``TRIM=0``: the untrimmed model; ``SCALE``: the generated graph's size; ``COMPILER=torch``:
``torch.compile(fullgraph=True)`` instead of ``gnnx.compile`` (``bench/rgat.py``'s).
Usage: python bench/lower_rgat_on_cpu.py  (prints "lowered" or raises Inductor's error)
"""
import os
import sys
import types

import torch
import torch._functorch.config
import torch._inductor.config
import triton
from triton.backends.compiler import GPUTarget

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "examples"))


class _StubDriver:
    """Enough of a CUDA driver for Inductor's code generation of user-defined Triton kernels."""

    def get_current_target(self):
        return GPUTarget("cuda", 90, 32)

    def get_current_device(self):
        return 0

    def get_current_stream(self, device=None):
        return 0

    def is_active(self):
        return True

    def get_device_interface(self):
        return torch.cuda

    def get_active_torch_device(self):
        return torch.device("cpu")


def main() -> None:
    triton.runtime.driver.set_active(_StubDriver())
    from torch._inductor.runtime import triton_heuristics  # kernels are generated, not built or run
    triton_heuristics.CachingAutotuner.precompile = lambda self, *args, **kwargs: None
    triton_heuristics.CachingAutotuner.run = lambda self, *args, **kwargs: None
    torch._functorch.config.force_non_lazy_backward_lowering = True
    torch._inductor.config.compile_threads = 1  # in this process, where the stubs below apply
    torch.cuda.get_device_properties = lambda device: types.SimpleNamespace(multi_processor_count=4)
    from rgat import build_rgat, seeds_loader, training_step

    import gnnx
    import gnnx.ops.grouped_projection as grouped
    import gnnx.ops.triton_grouped_project as kernels
    from gnnx import ops
    from gnnx.datasets import hetero_benchmark_graph
    from gnnx.nn import hetero_gat

    def on_kernels(x, weight, groups, full, width):  # the Triton path whatever the device
        return grouped._GroupedProject.apply(x, weight, groups.rows, groups.counts, groups.slot_of, groups.stride,
                                             full, width)

    grouped._KERNELS = kernels
    ops.grouped_project = on_kernels
    hetero_gat.ENABLED, hetero_gat.COMPACT_ROWS = True, True
    graph = hetero_benchmark_graph(scale=float(os.environ.get("SCALE", "0.01")), num_features=16)
    batch = next(iter(seeds_loader(graph, 64)))
    model = build_rgat(gnnx.nn, graph, 16, batch, "cpu")
    compiled = (gnnx.compile(model, dynamic=True) if os.environ.get("COMPILER", "gnnx") == "gnnx"
                else torch.compile(model, dynamic=True, fullgraph=True))
    step = training_step(compiled, list(model.parameters()),
                         trim=os.environ.get("TRIM", "1") == "1")
    step(batch)
    print("lowered")


if __name__ == "__main__":
    main()
