"""Does ``gnnx.ops.row_groups`` (Triton on CUDA) survive CUDA-graph capture? Captures it eager,
compiled (``fullgraph``, ``dynamic``) and through ``torch.cuda.make_graphed_callables`` with a
product that needs gradients, on R-GAT-sized indices (views of one ``[2, E]`` edge index, odd
``E``, int64 and int32), and prints each case's whole error. ``SYNC_DEBUG=1`` also runs
``bench/rgat.py``'s compact row with ``torch.cuda.set_sync_debug_mode("error")`` during each
capture, printing a failed capture's whole traceback (``RGAT_ONLY=1``: that alone).
Usage: python bench/row_groups_capture_probe.py"""
import os
import runpy
import sys
import traceback

import torch

from gnnx import ops

DEVICE = "cuda"


def indices(num_rows: int, edges: int, dtype: torch.dtype) -> list:
    edge_index = torch.randint(0, num_rows, (2, edges), device=DEVICE, dtype=dtype)
    return [edge_index[0], edge_index[1], edge_index[0, : edges // 3], edge_index[1, 5:]]


def summary(indices: list, num_rows: int) -> torch.Tensor:
    groups = ops.row_groups(indices, num_rows)
    return groups.rows.sum() + groups.counts.sum() * 7 + groups.slot_of.sum()


def captured(fn, args: list) -> torch.Tensor:
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(3):
            fn(*args)
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = fn(*args)
    graph.replay()
    torch.cuda.synchronize()
    return out


def main() -> None:
    num_rows, edges = 600_001, 1_134_907
    for dtype in (torch.long, torch.int32):
        args = indices(num_rows, edges, dtype)
        expected = summary(args, num_rows).item()
        weight = torch.randn(4, 8, 16, device=DEVICE, requires_grad=True)
        x = torch.randn(num_rows, 16, device=DEVICE)

        def projected(*index):
            groups = ops.row_groups(list(index), num_rows)
            out, _ = ops.grouped_project(x, weight, groups, 4, 8)
            return out

        cases = {
            "eager": lambda: captured(lambda *a: summary(list(a), num_rows), args).item(),
            "compiled": lambda: captured(torch.compile(lambda *a: summary(list(a), num_rows), fullgraph=True,
                                                       dynamic=True), args).item(),
            "make_graphed_callables": lambda: torch.cuda.make_graphed_callables(
                torch.compile(projected, fullgraph=True, dynamic=True), tuple(args))(*args).sum().item(),
        }
        for name, case in cases.items():
            try:
                got = case()
                print(f"{dtype} {name}: ok" + (f" (equal: {got == expected})" if name != "make_graphed_callables"
                                               else ""), flush=True)
            except Exception:
                print(f"{dtype} {name}: FAILED", flush=True)
                traceback.print_exc()
                return  # a failed capture spoils the generator for what follows


if __name__ == "__main__":
    if os.environ.get("RGAT_ONLY") != "1":
        main()
    if os.environ.get("SYNC_DEBUG") == "1":
        # synchronising calls are errors between capture_begin and capture_end only (compiling,
        # in the warm-up calls before, may synchronise), and the capture's error keeps its traceback
        begin, end = torch.cuda.CUDAGraph.capture_begin, torch.cuda.CUDAGraph.capture_end

        def capture_begin(self, *args, **kwargs):
            begin(self, *args, **kwargs)
            torch.cuda.set_sync_debug_mode("error")

        def capture_end(self):
            torch.cuda.set_sync_debug_mode("default")
            end(self)

        torch.cuda.CUDAGraph.capture_begin, torch.cuda.CUDAGraph.capture_end = capture_begin, capture_end
        import gnnx._compile_hetero as hetero
        from gnnx._replay import graphed

        def checked(*args, **kwargs):
            try:
                return graphed(*args, **kwargs)
            except Exception:
                torch.cuda.set_sync_debug_mode("default")
                traceback.print_exc()
                raise

        hetero.HeteroReplay.__init__.__defaults__ = (1.25, checked)  # growth, capture
        sys.argv = ["rgat.py", "--batches", "3", "--warmup", "1", "--out", os.environ.get("OUT", "/tmp"),
                    "--configs", "gnnx.compile (trimmed, compact rows)"]
        runpy.run_path(os.path.join(os.path.dirname(os.path.abspath(__file__)), "rgat.py"), run_name="__main__")
