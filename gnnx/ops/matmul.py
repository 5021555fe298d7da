r"""A linear projection whose backward skips the rows without gradient.

.. math::
    \mathbf{Y} = \mathbf{X}\mathbf{W}^\top, \qquad
    \nabla_{\mathbf{X}} = \mathbf{G}\mathbf{W}, \qquad \nabla_{\mathbf{W}} = \mathbf{G}^\top\mathbf{X}.

In mini-batch training on sampled subgraphs most rows of :math:`\mathbf{G}` are zero: a
``L``-layer model's loss reads the seeds only, so layer ``l``'s outputs carry gradient at the
nodes within ``L - l`` hops of them (MLPerf's R-GAT batch, 3 layers: 23 % of the paper rows in
the second layer, 2 % in the third). The projection runs as ATen's product; its backward, in
compiled CUDA code, as the Triton kernels of :mod:`gnnx.ops.triton_matmul`, which skip the all-zero
blocks of rows of :math:`\mathbf{G}` (the sampler lists nodes by hop, so the zero rows come in
long runs); elsewhere (eager calls, whose launches cost more host time; float64;
:data:`gnnx.ops.dispatch.SKIP_ZERO_GRAD_ROWS` says when) as ATen's products. Both give the
same values up to fp32 rounding.

Where ``x`` needs no gradient (a model's input features) the whole op is ATen's: the first
layer's gradient reaches every row of a sampled batch, and on dense rows cuBLAS's fp32
product beats the skipping kernel (H100, the R-GAT paper table's ``grad W``: 1.2 against
1.8 ms; with 23 % of the rows nonzero 0.64 against 1.2, with 2 % 0.35:
``bench/results/h100/tune_project.json``).
"""
from __future__ import annotations

from typing import Optional, Tuple

import torch
from torch import Tensor

from gnnx.ops.dispatch import cuda_matmul_kernels, triton_takes, under_function_transforms
from gnnx.ops.second_order import differentiating_backward


def project(x: Tensor, weight: Tensor) -> Tensor:
    """``x @ weight.t()`` (``x [N, I]``, ``weight [O, I]``: ``[N, O]``) with the backward of
    the module docstring. Under ``torch.autocast`` it runs in the autocast dtype, as ``mm``."""
    if x.dim() != 2 or weight.dim() != 2 or x.size(1) != weight.size(1):
        raise ValueError(f"project: x [N, I] and weight [O, I] needed, got {list(x.shape)} and {list(weight.shape)}")
    x, weight = autocast_operands(x, weight)
    if not torch.is_grad_enabled() or not x.requires_grad or under_function_transforms():
        # No gradient for x: a model's input features, whose first layer's gradient reaches
        # every row of a sampled batch, so ATen's product (faster on dense rows) serves.
        return x @ weight.t()
    return _Project.apply(x, weight)


def autocast_operands(x: Tensor, weight: Tensor) -> Tuple[Tensor, Tensor]:
    """``(x, weight)`` in the autocast dtype where ``torch.autocast`` is on for their device (as
    ``mm`` would run them); float64 and non-float tensors as they are."""
    device = x.device.type
    if device in ("cpu", "cuda") and torch.is_autocast_enabled(device):
        dtype = torch.get_autocast_dtype(device)
        x, weight = (t.to(dtype) if t.is_floating_point() and t.dtype != torch.float64 else t for t in (x, weight))
    return x, weight


def project_grads(grad: Tensor, x: Tensor, weight: Tensor, need_x: bool = True,
                  need_weight: bool = True) -> Tuple[Optional[Tensor], Optional[Tensor]]:
    """``(grad @ weight, grad.t() @ x)``, each ``None`` where not needed (ATen's products where
    they must be differentiable: a backward under ``create_graph``)."""
    kernels = cuda_matmul_kernels()
    if (kernels is not None and grad.is_cuda and triton_takes(grad) and grad.dtype == x.dtype == weight.dtype
            and not torch.jit.is_tracing() and not differentiating_backward(grad, x, weight)):
        grad_x, grad_weight = kernels.sparse_rows_grads(grad, x, weight, need_x, need_weight)
        return (grad_x if need_x else None), (grad_weight if need_weight else None)
    return (grad @ weight if need_x else None), (grad.t() @ x if need_weight else None)


class _Project(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x: Tensor, weight: Tensor) -> Tensor:
        ctx.save_for_backward(x, weight)
        return x @ weight.t()

    @staticmethod
    def backward(ctx, grad: Tensor):
        x, weight = ctx.saved_tensors
        return project_grads(grad, x, weight, ctx.needs_input_grad[0], ctx.needs_input_grad[1])
