r"""Second derivatives through the fast kernels.

The fast kernels' backward passes (Triton launches, MKL calls, chunked CPU loops) write
first-order gradients that autograd cannot see through. A backward that runs with grad mode
on, i.e. under ``create_graph=True`` (gradient penalties, forces
:math:`\mathbf{F} = -\partial E / \partial \mathbf{pos}` trained against, Hessian-vector
products), must return gradients that carry a graph of their own. There the ops take their
gradients from their plain-ATen reference instead: recomputed from the saved inputs and
differentiated with ``create_graph``, which is exact whatever the kernels do and costs only
the calls that ask for it.
"""
from __future__ import annotations

from typing import Callable, List, Optional, Sequence, Tuple, Union

import torch
from torch import Tensor


def differentiating_backward(*tensors: Optional[Tensor]) -> bool:
    """Whether a backward must return differentiable gradients: grad mode is on (a backward
    under ``create_graph=True``) and one of ``tensors`` (the incoming gradient, saved inputs)
    is part of a graph. First-order gradients go through the fast kernels."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def reference_grads(reference: Callable[..., Union[Tensor, Tuple[Tensor, ...]]], inputs: Sequence[Optional[Tensor]],
                    grads: Sequence[Optional[Tensor]], needed: Sequence[bool]) -> List[Optional[Tensor]]:
    """The gradients of ``reference(*inputs)`` (one tensor or a tuple, weighted by ``grads``,
    ``None`` for an output without one) with respect to the ``inputs`` marked in ``needed``, with
    ``create_graph=True``; ``None`` for the others and for inputs the outputs do not reach."""
    wanted = [i for i, (t, need) in enumerate(zip(inputs, needed)) if need and t is not None]
    found: List[Optional[Tensor]] = [None] * len(inputs)
    if not wanted:
        return found
    with torch.enable_grad():
        # Each input through an alias of its own: differentiated by the aliases, the result is
        # the partial derivative through the op alone, where differentiating by the inputs
        # themselves would add the paths by which one input depends on another (graph
        # attention's edge weights on the features they weight). The aliases keep the result in
        # the inputs' graph, so it is differentiable once more.
        leaves = [inputs[i].view_as(inputs[i]) if inputs[i].requires_grad else inputs[i].detach().requires_grad_()
                  for i in wanted]
        call_inputs = list(inputs)
        for i, leaf in zip(wanted, leaves):
            call_inputs[i] = leaf
        outputs = reference(*call_inputs)
    outputs = outputs if isinstance(outputs, tuple) else (outputs,)
    pairs = [(out, grad) for out, grad in zip(outputs, grads) if grad is not None and out.requires_grad]
    if not pairs:
        return found
    result = torch.autograd.grad([out for out, _ in pairs], leaves, [grad for _, grad in pairs], create_graph=True,
                                 allow_unused=True)
    for i, grad in zip(wanted, result):
        found[i] = grad
    return found
