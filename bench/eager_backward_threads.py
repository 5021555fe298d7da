"""Issue #17: why gnnx's eager EdgeCNN training step (bare edge_index, CUDA) is slower than
PyG's although its kernels are faster. Session 28 found the step host-bound, with ~1.2 ms a
layer spent around the fused backward op inside ``loss.backward()`` while the op called on the
main thread costs 0.26 ms. CUDA backward functions run on the autograd engine's device thread.

Prints, per model (gnnx eager, PyG eager, the loop floor): ms per forward, backward alone,
whole training step, with the engine's device threads on and off
(``torch.autograd.set_multithreading_enabled``); then the fused op's host time per call on the
main thread and on a worker thread; a chain of Python autograd Functions' backward, threads on
and off; the Python threads alive. Usage: python bench/eager_backward_threads.py [steps];
``... loop SECONDS [train|infer]`` runs gnnx's steps alone (for py-spy)."""
import os
import sys
import threading
import time
from typing import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

import gnnx.ops.triton_edge_mlp as fused
from gnnx.benchmark.seed import build, seed_graph

MODEL = os.environ.get("MODEL", "EdgeCNN")


def ms_per_call(fn: Callable[[], object], calls: int) -> float:
    for _ in range(3):
        fn()
    torch.cuda.synchronize()
    started = time.perf_counter()
    for _ in range(calls):
        fn()
    torch.cuda.synchronize()
    return (time.perf_counter() - started) / calls * 1e3


def model_rows(x: Tensor, edge_index: Tensor, y: Tensor, steps: int) -> None:
    for mode in ("gnnx_eager", "pyg_eager", "floor"):
        model = build(MODEL, mode, "cuda")
        optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)

        def forward():
            return F.cross_entropy(model(x, edge_index), y)

        def train():
            optimizer.zero_grad()
            forward().backward()
            optimizer.step()

        for threads in (True, False):
            torch.autograd.set_multithreading_enabled(threads)
            loss = forward()
            rows = {
                "forward": ms_per_call(forward, steps),
                "backward": ms_per_call(lambda: loss.backward(retain_graph=True), steps),
                "train step": ms_per_call(train, steps),
                "optimizer.step": ms_per_call(optimizer.step, steps),
            }
            print(f"{mode:11s} device threads {'on ' if threads else 'off'}: "
                  + ", ".join(f"{k} {v:.3f}" for k, v in rows.items()) + " ms", flush=True)
        torch.autograd.set_multithreading_enabled(True)


class Twice(torch.autograd.Function):
    @staticmethod
    def forward(ctx, t):
        return t * 2

    @staticmethod
    def backward(ctx, grad):
        return grad * 2


def python_function_chain(steps: int) -> None:
    leaf = torch.randn(1000, 64, device="cuda", requires_grad=True)
    for depth in (1, 3, 12):
        for threads in (True, False):
            torch.autograd.set_multithreading_enabled(threads)
            t = leaf
            for _ in range(depth):
                t = Twice.apply(t)
            out = t.sum()
            print(f"chain of {depth:2d} Python Functions, backward, device threads {'on ' if threads else 'off'}: "
                  f"{ms_per_call(lambda: out.backward(retain_graph=True), steps) * 1e3:.0f} us", flush=True)
    torch.autograd.set_multithreading_enabled(True)


def op_on_threads(x: Tensor, edge_index: Tensor, y: Tensor, steps: int) -> None:
    model = build("EdgeCNN", "gnnx_eager", "cuda")
    captured = {}
    op = fused.edge_mlp_max_backward

    def spy(*args):
        captured.setdefault("args", args)
        captured.setdefault("thread", threading.current_thread().name)
        return op(*args)

    fused.edge_mlp_max_backward = spy
    F.cross_entropy(model(x, edge_index), y).backward()
    fused.edge_mlp_max_backward = op
    args = captured["args"]
    print(f"the backward op ran on thread {captured['thread']!r}")
    print(f"fused backward op, main thread: {ms_per_call(lambda: op(*args), steps) * 1e3:.0f} us", flush=True)
    result = {}

    def worker():
        result["ms"] = ms_per_call(lambda: op(*args), steps)

    thread = threading.Thread(target=worker)
    thread.start()
    thread.join()
    print(f"fused backward op, worker thread: {result['ms'] * 1e3:.0f} us", flush=True)


def train_loop(seconds: float, kind: str = "train") -> None:
    """gnnx's eager training steps (``kind="infer"``: eval-mode forwards without gradient) for
    ``seconds``: the target of a sampling profiler. The model: ``$MODEL``, EdgeCNN by default."""
    x, edge_index, y = seed_graph("cuda")
    model = build(MODEL, "gnnx_eager", "cuda")
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    started, steps = time.perf_counter(), 0
    if kind == "infer":
        model.eval()
    while time.perf_counter() - started < seconds:
        if kind == "infer":
            with torch.no_grad():
                model(x, edge_index)
        else:
            optimizer.zero_grad()
            F.cross_entropy(model(x, edge_index), y).backward()
            optimizer.step()
        steps += 1
    torch.cuda.synchronize()
    print(f"{steps} steps, {(time.perf_counter() - started) / steps * 1e3:.2f} ms each")


def profile_backward(calls: int = 10) -> None:
    """torch.profiler over gnnx's backward alone (device threads off: every event on one
    thread): host time per op against the GPU's kernel time."""
    from torch.profiler import ProfilerActivity, profile

    x, edge_index, y = seed_graph("cuda")
    model = build(MODEL, "gnnx_eager", "cuda")
    torch.autograd.set_multithreading_enabled(False)
    loss = F.cross_entropy(model(x, edge_index), y)
    for _ in range(3):
        loss.backward(retain_graph=True)
    torch.cuda.synchronize()
    for what, step in (("backward alone", lambda: loss.backward(retain_graph=True)),
                       ("forward alone", lambda: F.cross_entropy(model(x, edge_index), y))):
        with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
            for _ in range(calls):
                step()
            torch.cuda.synchronize()
        print(f"== {MODEL}, {what}, {calls} calls")
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=30, max_name_column_width=70))
        print(prof.key_averages().table(sort_by="self_device_time_total", row_limit=15, max_name_column_width=70))


def main(steps: int = 30) -> None:
    """Everything above for ``$MODEL``; ``rows`` (first argument) only the model rows."""
    print(torch.__version__, torch.cuda.get_device_name(), "switch interval", sys.getswitchinterval())
    x, edge_index, y = seed_graph("cuda")
    model_rows(x, edge_index, y, steps)
    print("python threads:", [t.name for t in threading.enumerate()])
    python_function_chain(steps)
    op_on_threads(x, edge_index, y, steps)
    print("python threads at the end:", [t.name for t in threading.enumerate()])


if __name__ == "__main__":
    if sys.argv[1:2] == ["rows"]:
        print(torch.__version__, torch.cuda.get_device_name(), MODEL)
        model_rows(*seed_graph("cuda"), int(sys.argv[2]) if sys.argv[2:] else 30)
    elif sys.argv[1:2] == ["profile"]:
        profile_backward()
    elif sys.argv[1:2] == ["loop"]:
        train_loop(float(sys.argv[2]), *sys.argv[3:4])
    else:
        main(*map(int, sys.argv[1:]))
