"""Host time of the fused EdgeConv backward in eager CUDA calls (issue #17: gnnx's eager EdgeCNN
training step, 6.3 ms on the H200, is host-bound and slower than PyG's 5.5 ms; torch.profiler
gave ~0.5 ms of self CPU time per call of ``gnnx::edge_mlp_max_backward``).

Captures one call's arguments from an EdgeCNN step on the seed graph, then times, per call:
the op through the dispatcher, its Python body called directly, a probe custom op with as many
CUDA tensor arguments doing nothing; the model's forward (with and without grad) and backward
apart; the top functions (cProfile) of the backward and of the op's body.
Session 29 made eager EdgeConv one autograd node (bench/eager_node.py compares both);
this script measures the registered op's path, forced for the whole run.
Usage: python bench/edge_mlp_eager_overhead.py (CUDA)."""
import cProfile
import io
import pstats
import time
from typing import Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

import gnnx.ops.edge_mlp as edge_mlp
import gnnx.ops.triton_edge_mlp as fused
from gnnx.benchmark.seed import build, seed_graph


@torch.library.custom_op("gnnx_probe::ten_tensors", mutates_args=())
def ten_tensors(a: Tensor, b: Tensor, c: Tensor, d: Tensor, e: Tensor, f: Tensor, g: Tensor, h: Tensor, i: Tensor,
                j: Tensor) -> Tuple[Tensor, Tensor]:
    return torch.empty_like(a), torch.empty_like(b)


def per_call_us(fn, calls: int = 50) -> Tuple[float, float]:
    """(host microseconds per call without waiting, microseconds per call with the device)."""
    for _ in range(5):
        fn()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    host = time.perf_counter() - started
    torch.cuda.synchronize()
    return host / calls * 1e6, (time.perf_counter() - started) / calls * 1e6


def main() -> None:
    x, edge_index, y = seed_graph("cuda")
    model = build("EdgeCNN", "gnnx_eager", "cuda")
    # the registered op's path (eager calls take one autograd node since session 29)
    edge_mlp._runs_eagerly = lambda *args: False
    captured = {}
    op = fused.edge_mlp_max_backward

    def spy(*args):
        captured.setdefault("args", args)
        return op(*args)

    fused.edge_mlp_max_backward = spy
    F.cross_entropy(model(x, edge_index), y).backward()
    fused.edge_mlp_max_backward = op
    args = captured["args"]
    print("op through the dispatcher: host %.0f us, with device %.0f us" % per_call_us(lambda: op(*args)))
    print("its Python body:           host %.0f us, with device %.0f us" % per_call_us(lambda: op._init_fn(*args)))
    probe = [t for t in args if isinstance(t, Tensor)][:10]
    print("probe op, 10 CUDA tensors: host %.0f us, with device %.0f us" % per_call_us(lambda: ten_tensors(*probe)))

    def step():
        F.cross_entropy(model(x, edge_index), y).backward()

    def forward():
        return F.cross_entropy(model(x, edge_index), y)

    print("EdgeCNN forward+backward:  host %.0f us, with device %.0f us" % per_call_us(step, 20))
    print("EdgeCNN forward (grad on): host %.0f us, with device %.0f us" % per_call_us(forward, 20))
    loss = forward()
    print("EdgeCNN backward alone:    host %.0f us, with device %.0f us"
          % per_call_us(lambda: loss.backward(retain_graph=True), 20))
    with torch.no_grad():
        print("EdgeCNN forward, no grad:  host %.0f us, with device %.0f us" % per_call_us(forward, 20))
    backward = cProfile.Profile()
    backward.enable()
    for _ in range(20):
        loss.backward(retain_graph=True)
    torch.cuda.synchronize()
    backward.disable()
    text = io.StringIO()
    pstats.Stats(backward, stream=text).sort_stats("tottime").print_stats(16)
    print("== backward alone, cProfile\n" + text.getvalue())
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(50):
        op._init_fn(*args)
    torch.cuda.synchronize()
    profile.disable()
    text = io.StringIO()
    pstats.Stats(profile, stream=text).sort_stats("tottime").print_stats(14)
    print(text.getvalue())


if __name__ == "__main__":
    main()
