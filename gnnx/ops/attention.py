r"""Graph attention in one op: edge scores, softmax over each node's incoming edges, and
the weighted sum of source features.

.. math::
    \mathrm{out}_{i,h} = \sum_{j \to i} \alpha_{ji,h}\, \mathbf{x}_{j,h}, \qquad
    \alpha_{ji,h} = \operatorname{softmax}_{j \to i}(s_{ji,h})

with the score of GAT (``score_src``/``score_dst`` given)

.. math:: s_{ji,h} = \mathrm{LeakyReLU}(a^{s}_{j,h} + a^{d}_{i,h} + b_{ji,h})

or of GATv2 (``x_dst``/``att`` given)

.. math:: s_{ji,h} = \mathbf{a}_h^\top \mathrm{LeakyReLU}(\mathbf{x}_{j,h} + \mathbf{x}^{d}_{i,h}) + b_{ji,h}

where ``edge_bias`` :math:`b` is optional and ``-inf`` masks an edge out.

On CUDA with a CSR of the edges this is one Triton pass per destination row and head
(:mod:`gnnx.ops.triton_attention`): an online softmax, as in flash attention, so neither
the ``[E, H]`` weights nor (for GATv2) the ``[E, H, C]`` score inputs are written in the
forward; the backward recomputes them. Elsewhere it is the plain-ATen reference
(scores, :func:`~gnnx.ops.segment_softmax`, :func:`~gnnx.ops.spmm`), which compiles and
exports everywhere.
"""
from __future__ import annotations

from typing import Optional, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.graph import CSR, build_csr
from gnnx.ops import dispatch
from gnnx.ops.scatter import scatter, segment_softmax
from gnnx.ops.spmm import spmm


def attention_scores(x: Tensor, src: Tensor, dst: Tensor, score_src: Optional[Tensor], score_dst: Optional[Tensor],
                     x_dst: Optional[Tensor], att: Optional[Tensor], edge_bias: Optional[Tensor],
                     negative_slope: float) -> Tensor:
    """The unnormalised scores ``s [E, H]`` of the module docstring, in ``src``/``dst`` order."""
    if att is not None:
        z = x.index_select(0, src) + x_dst.index_select(0, dst)
        score = (F.leaky_relu(z, negative_slope) * att.view(1, *att.shape[-2:])).sum(-1)
        return score + edge_bias if edge_bias is not None else score
    score = score_src.index_select(0, src) + score_dst.index_select(0, dst)
    if edge_bias is not None:
        score = score + edge_bias
    return F.leaky_relu(score, negative_slope)


def attention(
    x: Tensor,
    edge_index: Tensor,
    num_dst: Union[int, torch.SymInt],
    *,
    score_src: Optional[Tensor] = None,
    score_dst: Optional[Tensor] = None,
    x_dst: Optional[Tensor] = None,
    att: Optional[Tensor] = None,
    edge_bias: Optional[Tensor] = None,
    negative_slope: float = 0.2,
    csr: Optional[CSR] = None,
) -> Tensor:
    """Attention-weighted aggregation (module docstring) of ``x [N_src, H, C]`` into ``[num_dst, H, C]``.

    Args:
        x: source features per head, the values summed (and GATv2's source term).
        edge_index: int64 ``[2, E]``, sources in row 0, destinations in row 1.
        num_dst: number of destination nodes.
        score_src, score_dst: GAT's per-node score halves ``[N_src, H]``, ``[num_dst, H]``.
        x_dst, att: GATv2's destination features ``[num_dst, H, C]`` and attention vector ``[H, C]``
            (or ``[1, H, C]``).
        edge_bias: ``[E, H]`` added to the score (``-inf``: edge ignored), in ``edge_index`` order.
        negative_slope: LeakyReLU slope.
        csr: :class:`~gnnx.graph.CSR` of ``edge_index`` (enables the fused CUDA kernel).
    """
    if (score_src is None) == (att is None):
        raise ValueError("attention: give either score_src/score_dst (GAT) or x_dst/att (GATv2)")
    if x.dim() != 3:
        raise ValueError(f"attention: x must be [N, heads, channels], got shape {list(x.shape)}")
    if dispatch.attention_kernel(x) == "triton":
        if csr is None:
            csr = dispatch.cached_csr(edge_index, num_dst, x.size(0)) or build_csr(edge_index, num_dst, x.size(0))
        return dispatch.cuda_attention_kernels().fused_attention(x, csr, score_src, score_dst, x_dst, att, edge_bias, negative_slope)
    src, dst = edge_index[0], edge_index[1]
    score = attention_scores(x, src, dst, score_src, score_dst, x_dst, att, edge_bias, negative_slope)
    alpha = segment_softmax(score, dst, num_dst)
    if csr is None and x.is_cuda and dispatch.is_tracing():
        # Compiled without a prepared CSR (e.g. each relation of a heterogeneous batch): a
        # gather-multiply-scatter that Inductor fuses beats sorting edges into a CSR per call
        # for the SpMM kernel (R-GAT on an H200: bench/results/h200/rgat.md).
        messages = x.index_select(0, src) * alpha.unsqueeze(-1)
        return scatter(messages, dst, num_dst, "sum")
    return spmm(x, edge_index, num_dst, alpha, "sum", csr=csr)
