"""EdgeConv: the dynamic graph CNN operator (Wang et al., 2019)."""
from __future__ import annotations

from typing import Optional, Tuple, Union

import torch
from torch import Tensor
from torch.nn.parameter import UninitializedParameter

from gnnx.graph import CSR, Graph
from gnnx.nn.inits import reset
from gnnx.nn.message_passing import Adj, MessagePassing
from gnnx.nn.mlp import MLP
from gnnx.ops import dispatch
from gnnx.ops.edge_mlp import chunked_available, edge_conv_max, fused_available, node_halves

PairTensor = Tuple[Tensor, Optional[Tensor]]


def _first_linear(nn: torch.nn.Module) -> Optional[torch.nn.Linear]:
    if isinstance(nn, MLP):
        return nn.lins[0]
    if isinstance(nn, torch.nn.Sequential) and len(nn) > 0 and isinstance(nn[0], torch.nn.Linear):
        return nn[0]
    return None


def _fusable_second_linear(nn: torch.nn.Module) -> Optional[torch.nn.Linear]:
    """The last layer of a ``Linear -> ReLU -> Linear`` network (an :class:`~gnnx.nn.MLP`
    without norm and without active dropout, or such a ``Sequential``), else ``None``."""
    if isinstance(nn, MLP):
        if (len(nn.lins) == 2 and nn.plain_last and isinstance(nn.norms[0], torch.nn.Identity)
                and type(nn.act) is torch.nn.ReLU and not (nn.training and any(p > 0 for p in nn.dropout))):
            return nn.lins[1]
        return None
    if (isinstance(nn, torch.nn.Sequential) and len(nn) == 3 and type(nn[1]) is torch.nn.ReLU
            and isinstance(nn[2], torch.nn.Linear)):
        return nn[2]
    return None


def _rest(nn: torch.nn.Module, h: Tensor) -> Tensor:
    """``nn`` applied to ``h``, the output of its first linear layer."""
    if isinstance(nn, MLP):
        return nn(h, skip_first_linear=True)
    for module in list(nn)[1:]:
        h = module(h)
    return h


class EdgeConv(MessagePassing):
    r"""The edge convolution from `"Dynamic Graph CNN for Learning on Point Clouds"
    <https://arxiv.org/abs/1801.07829>`_.

    .. math::
        \mathbf{x}'_i = \max_{j \in \mathcal{N}(i)} h_{\mathbf{\Theta}}
        \big(\mathbf{x}_i \,\Vert\, \mathbf{x}_j - \mathbf{x}_i\big)

    Args:
        nn: the network :math:`h_{\mathbf{\Theta}}`, mapping ``[E, 2F]`` to ``[E, F_out]``.
        aggr: ``"max"`` (default), ``"mean"``, ``"add"`` or ``"min"``.

    When ``nn`` starts with a linear layer (an :class:`~gnnx.nn.MLP` or a
    ``Sequential`` whose first module is ``Linear``), that layer is split by linearity,
    :math:`\mathbf{W}[\mathbf{x}_i \Vert \mathbf{x}_j - \mathbf{x}_i] =
    (\mathbf{W}_1 - \mathbf{W}_2)\mathbf{x}_i + \mathbf{W}_2 \mathbf{x}_j`, and applied
    per node instead of per edge: the same function with an ``[N, 2F]`` instead of an
    ``[E, 2F]`` matrix product. When the network is ``Linear -> ReLU -> Linear`` (PyG's
    ``EdgeCNN`` MLP: no norm, no active dropout) with ``aggr="max"``, on CUDA with a prepared
    CSR (a :class:`~gnnx.Graph`, the structure cache, or the CSR a model builds once when traced),
    eager, compiled and exported calls run the rest fused (:func:`gnnx.ops.edge_mlp.edge_conv_max`):
    the second layer on tensor cores at fp32 accuracy, the max with its winners, and a backward
    that recomputes only each channel's winning hidden row, so no ``[E, F]`` activation is
    kept for the backward (H100, seed graph, 3-layer EdgeCNN forward+backward with a CUDA
    graph: 0.86 ms per step, 6.9x PyG eager; unfused 1.27 ms in an earlier run,
    bench/results/h100/seed_table_EdgeCNN{,_unfused}.md). CPU calls (eager and compiled,
    behind an opaque op) run the same op over ~1 MiB of edges at a time, its backward
    recomputing them (no ``[E, F]`` buffer;
    bench/results/cpu/session25_cpu_gat_edgeconv.md). Message hooks and explain mode take
    the message-passing path. With ``x`` a single tensor the two halves of the first layer
    are one ``[N, 2 F_hidden]`` product.

    Shapes:
        input ``x [N, F]`` or a pair, ``edge_index [2, E]`` or :class:`~gnnx.Graph`;
        output ``[N_dst, F_out]``. Nodes without incoming edges get 0.
    """

    def __init__(self, nn: torch.nn.Module, aggr: str = "max", flow: str = "source_to_target") -> None:
        super().__init__(aggr=aggr, flow=flow)
        self.nn = nn
        self.reset_parameters()

    def reset_parameters(self) -> None:
        reset(self.nn)

    def forward(self, x: Union[Tensor, PairTensor], edge_index: Adj, edge_mask: Optional[Tensor] = None) -> Tensor:
        """``edge_mask`` (bool ``[E]``, gnnx's): edges left out of the aggregation, as a static
        kNN between two point sets marks its missing neighbours."""
        x_src, x_dst = (x, x) if isinstance(x, Tensor) else x
        first = _first_linear(self.nn)
        mask = {} if edge_mask is None else {"edge_mask": edge_mask}
        if first is None:
            return self.propagate(edge_index, x=(x_src, x_dst), **mask)
        half = x_src.size(-1)
        if not isinstance(first.weight, UninitializedParameter) and first.weight.size(1) != 2 * half:
            raise ValueError(f"{type(self).__name__}: the network's first layer takes {first.weight.size(1)} "
                             f"input channels, [x_i, x_j - x_i] of two {first.weight.size(1) // 2}-wide node "
                             f"features, got x of shape {list(x_src.shape)}")
        second = self._fused_second_linear()
        csr = self._fused_csr(second, first.weight.size(0), edge_index, x_src, x_dst, edge_mask)
        if csr is not None:
            return edge_conv_max(x_src, x_dst, first.weight, first.bias, second.weight, second.bias, csr)
        per_dst, per_src = node_halves(x_src, x_dst, first.weight, first.bias)
        return self.propagate(edge_index, h_dst=(None, per_dst), h_src=(per_src, None), **mask)

    def _fused_second_linear(self) -> Optional[torch.nn.Linear]:
        """The network's last layer where the layer's structure admits the fused op
        (``Linear -> ReLU -> Linear``, ``aggr="max"``, ``source_to_target``), else ``None``;
        a call then also needs CUDA tensors and a CSR (:meth:`_fused_csr`)."""
        if self.aggr != "max" or self.flow != "source_to_target":
            return None
        return _fusable_second_linear(self.nn)

    def _fused_csr(self, second: Optional[torch.nn.Linear], hidden: int, edge_index: Adj, x_src: Tensor,
                   x_dst: Tensor, edge_mask: Optional[Tensor]) -> Optional[CSR]:
        """The CSR the fused kernels (or, in CPU calls, the chunked loops of
        :func:`~gnnx.ops.edge_mlp.edge_conv_max`) need (``second``: :meth:`_fused_second_linear`,
        ``hidden``: the first layer's width), where they apply to this call, else ``None``."""
        if second is None or edge_mask is not None or x_dst.dim() != 2 or self._messages_observed():
            return None  # (hooks and explain mode read the messages: propagate builds them)
        if not (fused_available(x_dst, second.weight, hidden) or chunked_available(x_dst)):
            return None
        if isinstance(edge_index, Graph):
            csr = edge_index.csr
        elif isinstance(edge_index, Tensor):
            csr = dispatch.cached_csr(edge_index, x_dst.size(0), x_src.size(0))
        else:
            return None
        if csr is None or csr.rowptr.numel() != x_dst.size(0) + 1 or csr.rowptr_t.numel() != x_src.size(0) + 1:
            return None
        return csr

    def message(self, x_i: Optional[Tensor] = None, x_j: Optional[Tensor] = None,
                h_dst_i: Optional[Tensor] = None, h_src_j: Optional[Tensor] = None) -> Tensor:
        if h_dst_i is not None and h_src_j is not None:  # first linear layer done per node
            return _rest(self.nn, h_dst_i + h_src_j)
        return self.nn(torch.cat([x_i, x_j - x_i], dim=-1))

    def __repr__(self) -> str:
        return f"{type(self).__name__}(nn={self.nn})"
