"""CUDA-graph capture of a compiled call, shared by :mod:`gnnx._compile` (homogeneous inputs
padded to size buckets) and :mod:`gnnx._compile_hetero` (heterogeneous inputs padded to
per-type capacities): capture forward (and backward where parameters need gradients) once,
replay after."""
from __future__ import annotations

import contextlib
import warnings
import weakref
from typing import Any, Callable, List, Optional

import torch
from torch import Tensor

from gnnx.cuda_graph import capture_call, end_generator_capture
from gnnx.graph import version_of


def modes() -> tuple:
    """The global modes a captured graph is only valid under: autocast (its dtype decides the
    captured kernels' precision and output dtype) and inference mode (the capture's private
    input buffers are inference tensors there, which no call outside the mode may write)."""
    autocast = torch.get_autocast_dtype("cuda") if torch.is_autocast_enabled("cuda") else None
    return autocast, torch.is_inference_mode_enabled()


def uncached_autocast():
    """The caller's CUDA autocast without its cast cache, which CUDA-graph capture refuses
    (the compiled code casts inside the graph, so the cache serves nothing here)."""
    if torch.is_autocast_enabled("cuda") and torch.is_autocast_cache_enabled():
        return torch.autocast("cuda", dtype=torch.get_autocast_dtype("cuda"), cache_enabled=False)
    return contextlib.nullcontext()


def graphed(flat: torch.nn.Module, static: List[Tensor], warmup: int = 3) -> Callable:
    """``flat`` captured on the tensors ``static``: a callable that copies its arguments into
    ``static`` (none where it is given ``static`` itself) and replays. Forward and backward
    (:func:`torch.cuda.make_graphed_callables`) where ``flat``'s parameters need gradients,
    else the forward alone, after ``warmup`` calls on a side stream (lazy initialisation).
    A capture that fails raises, with the device's random generator usable again."""
    if torch.is_grad_enabled() and any(p.requires_grad for p in flat.parameters()):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)
                return torch.cuda.make_graphed_callables(flat, tuple(static), num_warmup_iters=warmup,
                                                         allow_unused_input=True)
        except Exception:
            end_generator_capture()
            raise
    cuda_graph, static_out = capture_call(lambda: flat(*static), warmup)

    def replay(*args: Tensor) -> Any:
        for buffer, value in zip(static, args):
            if buffer is not value:
                buffer.copy_(value)
        cuda_graph.replay()
        return static_out

    return replay


class Replay:
    """A captured call, replayed by calling it. A replay that records for autograd keeps its
    activations in the graph's buffers until its backward ran; replaying before then would
    overwrite them (two forwards, then one backward: the first's gradients silently wrong), so
    :meth:`busy` says so and the caller runs that call uncaptured."""

    def __init__(self, replay: Callable, finish: Callable = lambda out: out) -> None:
        """``finish``: applied to the outputs after they are tracked (e.g. :func:`clone`)."""
        self._replay, self._finish = replay, finish
        self._pending: Optional[list] = None  # [the replay's autograd node (weakly), backward done]

    def busy(self) -> bool:
        pending = self._pending
        return pending is not None and not pending[1] and pending[0]() is not None  # dropped: no backward due

    def __call__(self, *args: Tensor) -> Any:
        out = self._replay(*args)
        node = _autograd_node(out)
        try:  # the captured backward's node (a Python autograd function) takes a weak reference
            state = [weakref.ref(node), False]
        except TypeError:  # no node, or an eager operator's (not a captured call): nothing to track
            return self._finish(out)
        node.register_hook(lambda *_: state.__setitem__(1, True))
        self._pending = state
        return self._finish(out)


def _autograd_node(out: Any) -> Any:
    if isinstance(out, Tensor):
        return out.grad_fn
    values = out.values() if isinstance(out, dict) else out if isinstance(out, (tuple, list)) else ()
    return next((node for node in map(_autograd_node, values) if node is not None), None)


def capture(flat: torch.nn.Module, tensors: List[Tensor]) -> Replay:
    """A :class:`Replay` of ``flat(*tensors)`` from CUDA graphs. The captured graphs read
    private copies of the inputs; a call copies in only the inputs that are not the ones
    the last call copied (same tensor, same version), so an unchanged structure costs
    nothing."""
    static = [t.detach().clone().requires_grad_(t.requires_grad) for t in tensors]
    replay = graphed(flat, static)
    seen: List[Optional[tuple]] = [None] * len(static)  # (weak ref, version) last copied in

    def run(*args: Tensor) -> Any:
        feed = []
        for i, value in enumerate(args):
            last = seen[i]
            version = version_of(value)  # None (an inference tensor): always copied in
            if (last is not None and version is not None and last[0]() is value and last[1] == version
                    and not value.requires_grad):
                feed.append(static[i])  # already in the buffer: no copy
            else:
                feed.append(value)
                seen[i] = (weakref.ref(value), version)
        return replay(*feed)

    # Captured outputs live in buffers the next replay overwrites: hand out copies, so an
    # output kept across calls stays right.
    return Replay(run, finish=clone)


def clone(out: Any) -> Any:
    if isinstance(out, Tensor):
        return out.clone()
    if isinstance(out, tuple):
        return tuple(clone(o) for o in out)
    return out
