"""Lower (and generate code for) the R-GAT training step with the grouped-projection Triton ops
on a machine without a GPU, to catch Inductor lowering errors before spending device time.

Needs ``triton`` installed beside the CPU torch (any torch from 2.11, the GPU machine's, up). The
Triton ops are forced on CPU tensors, a stub driver stands in for CUDA, and Inductor generates its
own kernels with its Triton (GPU) code generator too (``INDUCTOR_TRITON=0``: its C++ one), so it
lowers and generates code for the forward and (with ``force_non_lazy_backward_lowering``) the
backward graph; no kernel is built or run, so the step's numbers mean nothing. It caught the
stride-order assertion of ``bench/results/h100/rgat_compact_rows/README.md`` (a view with a symbolic
trimmed size saved for the backward); it did not reproduce the ``CantSplit`` of run 3 there (fusion
choices still differ from CUDA's). ``TRIM=0``: the untrimmed model; ``COMPACT=0``: the node
tables instead of compact rows; ``SCALE``, ``BATCH``: the generated graph's size and the seeds
per batch; ``COMPILER=torch``: ``torch.compile(fullgraph=True)``
instead of ``gnnx.compile`` (``bench/rgat.py``'s).
Usage: python bench/lower_rgat_on_cpu.py  (prints "lowered" or raises Inductor's error)
"""
import os
import sys
import types

import torch
import torch._C._dynamo.guards as guards
import torch._dynamo.device_interface as device_interface
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


def stub_cuda_code_generation() -> None:
    """Inductor generates its Triton (GPU) code for CPU tensors, user kernels included, without
    building or running any kernel: buffers come back zeroed, so code between compiled graphs
    reads valid indices and the step runs on (meaningless) values."""
    triton.runtime.driver.set_active(_StubDriver())
    from torch._inductor.runtime import triton_heuristics  # kernels are generated, not built or run
    triton_heuristics.CachingAutotuner.precompile = lambda self, *args, **kwargs: None
    triton_heuristics.CachingAutotuner.run = lambda self, *args, **kwargs: None
    allocate = guards._empty_strided_cpu
    guards._empty_strided_cpu = lambda size, stride, dtype: allocate(size, stride, dtype).zero_()
    torch._functorch.config.force_non_lazy_backward_lowering = True
    torch._inductor.config.compile_threads = 1  # in this process, where the stubs apply
    torch._inductor.config.force_disable_caches = True  # a cached graph brings its old guards
    if os.environ.get("INDUCTOR_TRITON", "1") == "1":  # Inductor's own kernels through its Triton (GPU) code generator
        torch._inductor.config.cpu_backend = "triton"
    # an H100's processor count: Inductor splits reductions by it (for CPU tensors too, under the Triton backend)
    torch.cuda.get_device_properties = lambda device: types.SimpleNamespace(multi_processor_count=132)
    device_interface.CpuInterface.Worker.get_device_properties = staticmethod(
        lambda device=None: device_interface.CpuDeviceProperties(132))


def main() -> None:
    stub_cuda_code_generation()
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

    def row_groups_on_kernels(indices, num_rows):
        stride = grouped._stride(num_rows)
        return grouped.RowGroups(*kernels.row_groups(list(indices), num_rows, stride), stride)

    def add_rows_on_kernels(index, parts, counts, stride):
        return kernels.add_rows_in_use(index, list(parts), counts, stride)

    grouped._KERNELS = kernels
    ops.grouped_project, ops.row_groups = on_kernels, row_groups_on_kernels
    hetero_gat.add_rows_in_use = add_rows_on_kernels
    hetero_gat.ENABLED, hetero_gat.COMPACT_ROWS = True, os.environ.get("COMPACT", "1") == "1"
    graph = hetero_benchmark_graph(scale=float(os.environ.get("SCALE", "0.01")), num_features=16)
    batch = next(iter(seeds_loader(graph, int(os.environ.get("BATCH", "64")))))
    model = build_rgat(gnnx.nn, graph, 16, batch, "cpu")
    compiled = (gnnx.compile(model, dynamic=True) if os.environ.get("COMPILER", "gnnx") == "gnnx"
                else torch.compile(model, dynamic=True, fullgraph=True))
    step = training_step(compiled, list(model.parameters()),
                         trim=os.environ.get("TRIM", "1") == "1")
    step(batch)
    print("lowered")


if __name__ == "__main__":
    main()
