"""Capture a whole step (forward, backward, optimizer) as one CUDA graph and replay it.

Launch overhead, not bandwidth, bounds GNN steps on small and medium graphs: a 3-layer
model launches dozens of kernels of a few microseconds each. Replaying a captured graph
launches them all at once. Requirements, as for any CUDA graph: inputs live in static
tensors (copy new values into them with ``copy_``), graph structure is static (pass a
prepared :class:`~gnnx.Graph`), and an optimizer must be capturable
(``torch.optim.Adam(..., capturable=True)``). ``torch.compile(mode="reduce-overhead")``
is the automatic alternative; this helper also captures the backward and the optimizer.

Example::

    static_x = x.clone()
    def step():
        optimizer.zero_grad(set_to_none=False)
        loss = F.cross_entropy(model(static_x, graph)[mask], y[mask])
        loss.backward()
        optimizer.step()
        return loss
    step = CapturedStep(step)
    for batch_x in batches:
        static_x.copy_(batch_x)
        loss = step()        # one replay
"""
from __future__ import annotations

import warnings
from typing import Any, Callable, Tuple

import torch


def capture_call(fn: Callable[[], Any], warmup: int = 3) -> Tuple[torch.cuda.CUDAGraph, Any]:
    """``(graph, outputs)``: ``fn`` run ``warmup`` times on a side stream (lazy
    initialisation), then one call captured on the current device. A capture that fails
    raises, with the device's random generator usable again (:func:`end_generator_capture`)."""
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        for _ in range(warmup):
            fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            output = fn()
    except Exception:
        end_generator_capture()
        raise
    return graph, output


def end_generator_capture() -> None:
    """Take the current device's default generator out of capture mode after a failed capture.
    PyTorch leaves it there when ending the capture fails (an invalidated capture: it sets the
    state back only in a successful ``capture_end``), and every later random op outside a
    capture then fails ("Offset increment outside graph capture"): an uncaptured fallback's
    dropout included. An empty capture that ends cleanly runs that epilogue on the same
    generator state (graphs captured before keep theirs); seed and offset are untouched."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # "the CUDA graph is empty"
            with torch.cuda.graph(torch.cuda.CUDAGraph()):
                pass
    except Exception:  # the original error is the one to report
        pass


class CapturedStep:
    """Run ``fn`` a few times on a side stream (warm-up, lazy initialisation), capture one
    call as a CUDA graph, and replay it on each call; returns the captured outputs."""

    def __init__(self, fn: Callable[[], Any], warmup: int = 3) -> None:
        if not torch.cuda.is_available():
            raise RuntimeError("CapturedStep needs a CUDA device")
        self.graph, self.output = capture_call(fn, warmup)

    def __call__(self) -> Any:
        self.graph.replay()
        return self.output
