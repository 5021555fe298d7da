r"""Approximate personalised PageRank by push (PyG's ``get_ppr``; the variant of `Andersen,
Chung and Lang <https://mathweb.ucsd.edu/~fan/wp/localpartition.pdf>`_ that PPRGo uses).

From each target node :math:`s`, residual mass starts at :math:`\alpha` on :math:`s`; popping a
node :math:`u` (last in, first out) moves its residual into its estimate :math:`p_u` and spreads
:math:`(1-\alpha)` of it evenly over its out-neighbours; a neighbour whose residual reaches
:math:`\alpha\,\epsilon\,\deg(v)` joins the queue. Each target's nonzero estimates become
edges ``(s, v)`` with weight :math:`p_v`, in the order the nodes were first reached, as PyG
lists them. Runs compiled with numba where it is installed (as PyG's, which needs it), else in
plain Python with the same arithmetic.
"""
from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from gnnx.utils.num_nodes import maybe_num_nodes
from gnnx.utils.tensors import cumsum


def _push(rowptr: np.ndarray, col: np.ndarray, source: int, alpha: float, eps: float) -> Tuple[List[int], List[float]]:
    """The nonzero estimates of one source: ``(nodes, values)``, nodes in first-reached order."""
    estimate = {source: 0.0}
    residual = {source: alpha}
    queue = [source]
    while len(queue) > 0:
        u = queue.pop()
        mass = residual[u] if u in residual else 0.0
        estimate[u] = estimate[u] + mass if u in estimate else mass
        residual[u] = 0.0
        start, end = rowptr[u], rowptr[u + 1]
        for v in col[start:end]:
            share = (1 - alpha) * mass / (end - start)
            residual[v] = residual[v] + share if v in residual else share
            if residual[v] >= alpha * eps * (rowptr[v + 1] - rowptr[v]) and v not in queue:
                queue.append(v)
    return list(estimate.keys()), list(estimate.values())


_compiled_push = None


def _pusher():
    """``_push`` compiled by numba where installed (once), else ``_push`` itself."""
    global _compiled_push
    if _compiled_push is None:
        try:
            import numba
            _compiled_push = numba.njit(cache=False)(_push)
        except ImportError:
            _compiled_push = _push
    return _compiled_push


def get_ppr(edge_index: Tensor, alpha: float = 0.2, eps: float = 1e-5, target: Optional[Tensor] = None,
            num_nodes: Optional[int] = None) -> Tuple[Tensor, Tensor]:
    """``(edge_index [2, K], weight [K])``: for each target (all nodes by default), its
    approximate PPR vector's nonzero entries, row 0 the target. Mass moves along
    ``edge_index[0] -> edge_index[1]``; ``eps`` bounds each residual by ``eps`` times the
    node's out-degree."""
    if not 0 < alpha < 1:
        raise ValueError(f"get_ppr: alpha must lie in (0, 1), got {alpha}")
    num_nodes = maybe_num_nodes(edge_index, num_nodes)
    order = edge_index[0].sort().indices  # PyG's order of a node's neighbours (torch.sort on the input's device)
    src, dst = edge_index[0][order].cpu(), edge_index[1][order].cpu()
    rowptr = cumsum(torch.bincount(src, minlength=num_nodes))
    targets = torch.arange(num_nodes) if target is None else target.detach().cpu().long()
    push = _pusher()
    rowptr_np, col_np = rowptr.numpy(), dst.numpy()
    nodes, values = [], []
    for source in targets.tolist():
        reached, estimates = push(rowptr_np, col_np, source, float(alpha), float(eps))
        nodes.append(list(reached))
        values.append(list(estimates))
    device = edge_index.device
    counts = torch.tensor([len(n) for n in nodes], dtype=torch.long)
    col = torch.tensor([v for n in nodes for v in n], dtype=torch.long)
    weight = torch.tensor([v for vs in values for v in vs], dtype=torch.float)
    row = targets.repeat_interleave(counts)
    return torch.stack([row, col]).to(device), weight.to(device)
