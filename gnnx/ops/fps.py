r"""Farthest point sampling (PointNet++): per graph, ``ceil(ratio * n)`` of its ``n`` points,
each the point farthest from those already taken,

.. math::
    p_{t+1} = \operatorname*{arg\,max}_{i} \; \min_{s \le t} \lVert \mathbf{x}_i - \mathbf{x}_{p_s} \rVert^2,

starting from the graph's first point or, with ``random_start``, a random one.

Registered as the op ``gnnx::fps``. How many points it returns depends on the graphs' sizes,
so its fake kernel gives a size unknown at trace time: ``torch.compile(fullgraph=True,
dynamic=True)`` and ``torch.export`` trace through it without a graph break (an exported
program runs it from Python, with gnnx imported; AOTInductor packages cannot hold it). All
graphs of a batch step together: a step is a handful of tensor ops over all points (each
graph's farthest point by a segment maximum, ties to the smaller index), ``max_g
ceil(ratio * n_g)`` steps in all. PyG's ``fps`` needs ``pyg-lib`` (no wheels for current
torch); this one is plain torch on every device.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from gnnx.ops.neighbors import _check


@torch.library.custom_op("gnnx::fps", mutates_args=())
def _fps(x: Tensor, batch: Optional[Tensor], ratio: float, random_start: bool) -> Tensor:
    num_points = x.size(0)
    if batch is None:
        batch = torch.zeros(num_points, dtype=torch.long, device=x.device)
    elif num_points > 1 and bool((batch[1:] < batch[:-1]).any()):
        raise ValueError("fps: batch must be sorted (the points of each graph one after another)")
    if num_points == 0:
        return torch.empty(0, dtype=torch.long, device=x.device)
    sizes = torch.bincount(batch)
    first = torch.cumsum(sizes, 0) - sizes
    counts = torch.ceil(sizes.float() * ratio).long()  # float32, as torch_cluster rounds
    steps = int(counts.max())
    offset = 0
    if random_start:  # within the graph even where float rounding of rand * size reaches size
        offset = torch.minimum((torch.rand(sizes.size(0), device=x.device) * sizes).long(), (sizes - 1).clamp(min=0))
    current = torch.minimum(first + offset, torch.full_like(first, num_points - 1))
    nowhere = torch.full_like(first, num_points)
    point = torch.arange(num_points, device=x.device)
    nearest_taken = torch.full((num_points,), float("inf"), dtype=x.dtype, device=x.device)
    taken = torch.empty(sizes.size(0), steps, dtype=torch.long, device=x.device)
    for step in range(steps):
        taken[:, step] = current
        centre = x.index_select(0, current).index_select(0, batch)
        nearest_taken = torch.minimum(nearest_taken, (x - centre).square().sum(1))
        farthest = torch.full(sizes.shape, float("-inf"), dtype=x.dtype, device=x.device).scatter_reduce(
            0, batch, nearest_taken, "amax")
        candidate = torch.where(nearest_taken == farthest.index_select(0, batch), point, num_points)
        current = nowhere.scatter_reduce(0, batch, candidate, "amin").clamp(max=num_points - 1)
    keep = torch.arange(steps, device=x.device) < counts.unsqueeze(1)
    return taken[keep]


@_fps.register_fake
def _(x: Tensor, batch: Optional[Tensor], ratio: float, random_start: bool) -> Tensor:
    return x.new_empty(torch.library.get_ctx().new_dynamic_size(), dtype=torch.long)


def fps(x: Tensor, batch: Optional[Tensor] = None, ratio: float = 0.5, random_start: bool = True) -> Tensor:
    """Indices of the sampled points (module docstring), graph by graph in the order taken.

    Args:
        x: points ``[N, D]`` (more dimensions are flattened, as PyG does).
        batch: graph of each point ``[N]``, sorted; ``None``: one graph.
        ratio: the share of each graph's points to take, in ``(0, 1]``.
        random_start: start each graph at a random point (else at its first).
    """
    if not isinstance(x, Tensor) or x.dim() < 2:
        raise ValueError(f"fps: x must have shape [N, D], got {list(x.shape) if isinstance(x, Tensor) else type(x)}")
    points = x.detach().flatten(1)
    _check(points, batch, "fps: x")  # the neighbour searches' checks: dtype, batch shape and ids, finite points
    if not 0.0 < ratio <= 1.0:
        raise ValueError(f"fps: ratio must be in (0, 1], got {ratio!r}")
    return _fps(points, None if batch is None else batch.long(), float(ratio), bool(random_start))
