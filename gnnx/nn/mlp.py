"""MLP with PyG's parameter layout (``lins.i``, ``norms.i``), as used inside GIN and EdgeCNN."""
from __future__ import annotations

from typing import Any, Callable, Dict, List, Optional, Sequence, Union

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.inits import activation, linear
from gnnx.nn.norm import apply_norm, normalization


class MLP(torch.nn.Module):
    r"""A multi-layer perceptron :math:`\mathbf{x} \mapsto \mathbf{W}_L \sigma(\dots \sigma(\mathbf{W}_1 \mathbf{x}))`.

    Args:
        channel_list: sizes ``[in, hidden..., out]``; or give ``in_channels``,
            ``hidden_channels``, ``out_channels`` and ``num_layers``.
        dropout: dropout after each layer (a float or one per layer).
        act, act_first, act_kwargs: activation, and whether it precedes the norm.
        norm, norm_kwargs: normalisation after each hidden layer: ``None``, a module, or a
            name such as ``"batch_norm"``/``"layer_norm"``/``"graph_norm"`` (as PyG resolves it).
        plain_last: the last layer gets no activation or norm (dropout still applies, as in PyG).
        bias: biases in the linear layers.

    Shapes: input ``[*, in]``, output ``[*, out]``.
    """

    def __init__(
        self,
        channel_list: Optional[Union[Sequence[int], int]] = None,
        *,
        in_channels: Optional[int] = None,
        hidden_channels: Optional[int] = None,
        out_channels: Optional[int] = None,
        num_layers: Optional[int] = None,
        dropout: Union[float, List[float]] = 0.0,
        act: Union[str, Callable, None] = "relu",
        act_first: bool = False,
        act_kwargs: Optional[Dict[str, Any]] = None,
        norm: Union[str, torch.nn.Module, None] = "batch_norm",
        norm_kwargs: Optional[Dict[str, Any]] = None,
        plain_last: bool = True,
        bias: bool = True,
    ) -> None:
        super().__init__()
        if isinstance(channel_list, int):
            in_channels, channel_list = channel_list, None
        if channel_list is None:
            if in_channels is None or out_channels is None or num_layers is None:
                raise ValueError("MLP needs channel_list, or in_channels, out_channels and num_layers")
            hidden = hidden_channels if hidden_channels is not None else out_channels
            channel_list = [in_channels] + [hidden] * (num_layers - 1) + [out_channels]
        channel_list = list(channel_list)
        if len(channel_list) < 2:
            raise ValueError(f"MLP needs at least two channel sizes, got {channel_list}")
        self.channel_list = channel_list
        self.act = activation(act, **(act_kwargs or {}))
        self.act_first, self.plain_last = act_first, plain_last
        num = len(channel_list) - 1
        self.dropout = list(dropout) if isinstance(dropout, (list, tuple)) else [float(dropout)] * num
        if len(self.dropout) != num:
            raise ValueError(f"MLP: {len(self.dropout)} dropout values for {num} layers")
        self.lins = torch.nn.ModuleList(
            linear(a, b, bias=bias) for a, b in zip(channel_list[:-1], channel_list[1:])
        )
        normed = channel_list[1:-1] if plain_last else channel_list[1:]
        self.norms = torch.nn.ModuleList(normalization(norm, c, **(norm_kwargs or {})) for c in normed)
        # PyG's flag: whether forward's batch/batch_size reach the norms (graph-wise norms)
        self.supports_norm_batch = any(getattr(n, "supports_batch", False) for n in self.norms)

    @property
    def in_channels(self) -> int:
        return self.channel_list[0]

    @property
    def out_channels(self) -> int:
        return self.channel_list[-1]

    def reset_parameters(self) -> None:
        for module in list(self.lins) + list(self.norms):
            if hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def forward(self, x: Tensor, batch: Optional[Tensor] = None, batch_size: Optional[int] = None,
                return_emb: Optional[bool] = None, *, skip_first_linear: bool = False,
                node_mask: Optional[Tensor] = None):
        """Apply the MLP (PyG's signature: ``batch``/``batch_size`` go to norms that take them;
        ``return_emb=True`` also returns the embedding before the last linear layer). gnnx's
        keywords: with ``skip_first_linear``, ``x`` is the first layer's output already
        (callers that compute it more cheaply, e.g. :class:`~gnnx.nn.EdgeConv`);
        ``node_mask`` (bool ``[N]``) keeps padded rows out of batch-norm statistics."""
        emb = None
        if skip_first_linear and len(self.lins) == 1:
            x = _dropout(x, self.dropout[-1], self.training) if self.plain_last else x
            return (x, emb) if isinstance(return_emb, bool) else x
        for i, (lin, norm) in enumerate(zip(self.lins, self.norms)):
            if not (skip_first_linear and i == 0):
                x = lin(x)
            if self.act is not None and self.act_first:
                x = self.act(x)
            x = apply_norm(norm, x, node_mask, batch, batch_size)
            if self.act is not None and not self.act_first:
                x = self.act(x)
            x = _dropout(x, self.dropout[i], self.training)
            if return_emb is True:
                emb = x
        if self.plain_last:
            x = self.lins[-1](x)
            x = _dropout(x, self.dropout[-1], self.training)
        return (x, emb) if isinstance(return_emb, bool) else x

    def __repr__(self) -> str:
        return f"{type(self).__name__}({str(self.channel_list)[1:-1]})"  # PyG's: MLP(8, 16, 3)


def _dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``F.dropout``, skipped where it is the identity (``p = 0`` or eval): one op fewer
    per layer, which counts in launch-bound eager steps."""
    return F.dropout(x, p=p, training=True) if training and p > 0 else x
