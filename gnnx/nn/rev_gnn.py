r"""Reversible GNN blocks (RevGNN, Li et al., 2021, `arXiv:2106.07476
<https://arxiv.org/abs/2106.07476>`_; PyG's ``GroupAddRev``, ``InvertibleModule``).

:class:`GroupAddRev` splits the features into :math:`C` groups and adds each group's
update to the next, so the inputs can be rebuilt from the outputs:

.. math::
    \mathbf{X}'_0 = \sum_{i=2}^{C} \mathbf{X}_i, \qquad
    \mathbf{X}'_i = \mathbf{X}_i + f_{w_i}(\mathbf{X}'_{i-1}, \mathbf{A}), \quad i = 1..C,

and the inverse subtracts in reverse order. In an eager training step the block keeps no
activations: its input's storage is freed after the forward and rebuilt from the output
during the backward (``num_bwd_passes`` backward passes are allowed), so memory does not
grow with depth. Compiled and exported calls run the same arithmetic as an ordinary forward
(Inductor decides what to keep), since freeing storages is not something a traced graph may
do.
"""
from __future__ import annotations

import copy
from typing import Any, List, Optional, Tuple, Union

import torch
from torch import Tensor


class InvertibleFunction(torch.autograd.Function):
    """Runs ``fn`` without keeping its input: the input's storage is released after the
    forward and recomputed with ``fn_inverse`` from the output in the backward."""

    @staticmethod
    def forward(ctx, fn, fn_inverse, num_bwd_passes: int, num_inputs: int, *args):
        ctx.fn, ctx.fn_inverse = fn, fn_inverse
        ctx.weights = args[num_inputs:]
        ctx.num_bwd_passes, ctx.num_inputs = num_bwd_passes, num_inputs
        inputs = args[:num_inputs]
        ctx.input_requires_grad = [x.requires_grad if isinstance(x, Tensor) else None for x in inputs]
        with torch.no_grad():
            outputs = fn(*[x.detach() if isinstance(x, Tensor) else x for x in inputs])
        outputs = outputs if isinstance(outputs, tuple) else (outputs,)
        detached = tuple(out.detach_() for out in outputs)
        inputs[0].untyped_storage().resize_(0)  # the point of the block: the input is not kept
        ctx.inputs = [inputs] * num_bwd_passes
        ctx.outputs = [detached] * num_bwd_passes
        return detached

    @staticmethod
    def backward(ctx, *grad_outputs):
        if not ctx.outputs:
            raise RuntimeError(f"Trying to perform a backward pass on the 'InvertibleFunction' for more than "
                               f"'{ctx.num_bwd_passes}' times. Try raising 'num_bwd_passes'.")
        inputs, outputs = ctx.inputs.pop(), ctx.outputs.pop()
        with torch.no_grad():
            rebuilt = ctx.fn_inverse(*(outputs + tuple(inputs[1:])))
            if not ctx.outputs:  # the last allowed pass: the outputs are not needed again
                for out in outputs:
                    out.untyped_storage().resize_(0)
            rebuilt = rebuilt if isinstance(rebuilt, tuple) else (rebuilt,)
            for original, value in zip(inputs, rebuilt):
                original.untyped_storage().resize_(original.numel() * original.element_size())
                original.set_(value)
        with torch.enable_grad():
            detached = tuple(x.detach() if isinstance(x, Tensor) else x for x in inputs)
            for x, needs in zip(detached, ctx.input_requires_grad):
                if isinstance(x, Tensor):
                    x.requires_grad = bool(needs)
            recomputed = ctx.fn(*detached)
        recomputed = recomputed if isinstance(recomputed, tuple) else (recomputed,)
        wanted = tuple(x for x in detached if isinstance(x, Tensor) and x.requires_grad)
        gradients = torch.autograd.grad(recomputed, wanted + ctx.weights, grad_outputs, allow_unused=True)
        input_grads, position = [], 0
        for needs in ctx.input_requires_grad:
            if needs:
                input_grads.append(gradients[position])
                position += 1
            else:
                input_grads.append(None)
        return (None, None, None, None) + tuple(input_grads) + tuple(gradients[len(wanted):])


class InvertibleModule(torch.nn.Module):
    """A module whose ``_forward`` has an ``_inverse``; it runs through
    :class:`InvertibleFunction` unless ``disable`` (or compiled/exported)."""

    def __init__(self, disable: bool = False, num_bwd_passes: int = 1) -> None:
        super().__init__()
        self.disable, self.num_bwd_passes = disable, num_bwd_passes

    def forward(self, *args: Any) -> Any:
        return self._fn_apply(args, self._forward, self._inverse)

    def inverse(self, *args: Any) -> Any:
        """The inputs that give ``args`` as outputs."""
        return self._fn_apply(args, self._inverse, self._forward)

    def _forward(self, *args: Any) -> Any:
        raise NotImplementedError

    def _inverse(self, *args: Any) -> Any:
        raise NotImplementedError

    def _fn_apply(self, args: Tuple[Any, ...], fn, fn_inverse) -> Any:
        traced = torch.compiler.is_compiling() or torch.jit.is_tracing()
        if self.disable or traced or not torch.is_grad_enabled():
            out = fn(*args)
        else:
            out = InvertibleFunction.apply(fn, fn_inverse, self.num_bwd_passes, len(args), *args,
                                           *tuple(p for p in self.parameters() if p.requires_grad))
        return out[0] if isinstance(out, tuple) and len(out) == 1 else out


class GroupAddRev(InvertibleModule):
    """The grouped additive reversible block (module docstring).

    Args:
        conv: the layer of one group (copied and re-initialised per group) or a
            ``ModuleList`` of one layer per group; each maps ``channels / num_groups``
            features to as many.
        split_dim: the feature dimension that is split (default ``-1``).
        num_groups: the number of groups (at least 2) when ``conv`` is one layer.
        disable: run as a plain forward, keeping activations.
        num_bwd_passes: how many backward passes the saved state allows.
    """

    def __init__(self, conv: Union[torch.nn.Module, torch.nn.ModuleList], split_dim: int = -1,
                 num_groups: Optional[int] = None, disable: bool = False, num_bwd_passes: int = 1) -> None:
        super().__init__(disable, num_bwd_passes)
        self.split_dim = split_dim
        if isinstance(conv, torch.nn.ModuleList):
            self.convs = conv
        else:
            if num_groups is None:
                raise ValueError("GroupAddRev needs 'num_groups' when given one layer")
            self.convs = torch.nn.ModuleList([conv])
            for _ in range(num_groups - 1):
                copy_of = copy.deepcopy(conv)
                if hasattr(copy_of, "reset_parameters"):
                    copy_of.reset_parameters()
                self.convs.append(copy_of)
        if len(self.convs) < 2:
            raise ValueError(f"The number of groups should not be smaller than '2' (got '{len(self.convs)}')")

    @property
    def num_groups(self) -> int:
        return len(self.convs)

    def reset_parameters(self) -> None:
        for conv in self.convs:
            conv.reset_parameters()

    def _forward(self, x: Tensor, edge_index: Any, *args: Any) -> Tensor:
        channels = x.size(self.split_dim)
        xs = self._chunk(x, channels)
        group_args = self._group_args(args, channels)
        ys, y_in = [], sum(xs[1:])
        for i in range(self.num_groups):
            y_in = xs[i] + self.convs[i](y_in, edge_index, *group_args[i])
            ys.append(y_in)
        return torch.cat(ys, dim=self.split_dim)

    def _inverse(self, y: Tensor, edge_index: Any, *args: Any) -> Tensor:
        channels = y.size(self.split_dim)
        ys = self._chunk(y, channels)
        group_args = self._group_args(args, channels)
        xs: List[Tensor] = []
        for i in range(self.num_groups - 1, -1, -1):
            y_in = ys[i - 1] if i != 0 else sum(xs)
            xs.append(ys[i] - self.convs[i](y_in, edge_index, *group_args[i]))
        return torch.cat(xs[::-1], dim=self.split_dim)

    def _group_args(self, args: Tuple[Any, ...], channels: int) -> List[List[Any]]:
        per_group = list(zip(*[self._chunk(arg, channels) for arg in args]))
        return [[] for _ in range(self.num_groups)] if not per_group else [list(a) for a in per_group]

    def _chunk(self, x: Any, channels: int) -> List[Any]:
        """``x`` split into the groups where it has the feature width, else repeated."""
        if not isinstance(x, Tensor) or x.dim() == 0 or x.size(self.split_dim) != channels:
            return [x] * self.num_groups
        return list(torch.chunk(x, self.num_groups, dim=self.split_dim))

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.convs[0]}, num_groups={self.num_groups})"
