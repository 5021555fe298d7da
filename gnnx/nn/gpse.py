r"""GPSE, the Graph Positional and Structural Encoder of `"Graph Positional and Structural
Encoder" <https://arxiv.org/abs/2307.07107>`_ (PyG's ``GPSE``, ``GPSENodeEncoder`` and
``gpse_process``: arguments, module tree, state_dict keys, repr and values).

A deep residual GNN (``ResGatedGraphConv`` layers with batch norm, dropout, activation and L2
normalisation; GraphGym's layout) maps random node features to representations trained to
predict many positional and structural encodings at once; the pretrained network's last
representation (``use_repr``) serves as a node's encoding:

.. math::
    \mathbf{h}^{(l+1)} = \mathbf{h}^{(l)} + \mathrm{L2}\big(\mathrm{act}(\mathrm{BN}(
    \mathrm{ResGatedGraphConv}(\mathbf{h}^{(l)})))\big), \qquad \mathbf{h}^{(0)} = \mathrm{MLP}(\mathbf{z}),\
    \mathbf{z} \sim \mathcal{N}(0, 1).

gnnx's modules pass tensors where PyG's (GraphGym's) pass and mutate a batch object; the tree
of modules, and so the keys and the repr, are PyG's. ``GPSE.from_pretrained`` is refused:
gnnx downloads nothing and unpickles nothing; load a state_dict saved from PyG's model
(``GPSE.load_pretrained_state`` applies PyG's key renaming and head replacement to one).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Dict, Optional, Tuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.nn.conv import ResGatedGraphConv
from gnnx.nn.inits import activation
from gnnx.nn.pool import global_add_pool, global_max_pool, global_mean_pool


class Linear(torch.nn.Module):
    """GraphGym's linear layer (a ``torch.nn.Linear`` under ``model``)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool) -> None:
        super().__init__()
        self.model = torch.nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None) -> Tensor:
        return self.model(x)


class ResGatedGCNConv(torch.nn.Module):
    """GraphGym's wrapper of :class:`~gnnx.nn.ResGatedGraphConv` (under ``model``)."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool, **kwargs: Any) -> None:
        super().__init__()
        self.model = ResGatedGraphConv(in_channels, out_channels, bias=bias, **kwargs)

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None) -> Tensor:
        return self.model(x, edge_index)


class GeneralLayer(torch.nn.Module):
    """A layer, then batch norm, dropout and activation (``post_layer``), then L2 normalisation."""

    def __init__(self, name: str, in_channels: int, out_channels: int, has_batch_norm: bool, has_l2_norm: bool,
                 dropout: float, act: Optional[str], **kwargs: Any) -> None:
        super().__init__()
        self.has_l2_norm = has_l2_norm
        layers = {"linear": Linear, "resgatedgcnconv": ResGatedGCNConv}
        self.layer = layers[name](in_channels, out_channels, bias=not has_batch_norm, **kwargs)
        post_layers = []
        if has_batch_norm:
            post_layers.append(torch.nn.BatchNorm1d(out_channels, eps=1e-5, momentum=0.1))
        if dropout > 0:
            post_layers.append(torch.nn.Dropout(p=dropout, inplace=False))
        if act is not None:
            post_layers.append(activation(act))
        self.post_layer = torch.nn.Sequential(*post_layers)

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None) -> Tensor:
        x = self.post_layer(self.layer(x, edge_index))
        return F.normalize(x, p=2, dim=1) if self.has_l2_norm else x


class GeneralMultiLayer(torch.nn.Module):
    """``num_layers`` :class:`GeneralLayer` s (``Layer_0``, ...); the last without activation
    unless ``final_act``."""

    def __init__(self, name: str, in_channels: int, out_channels: int, hidden_channels: Optional[int],
                 num_layers: int, has_batch_norm: bool, has_l2_norm: bool, dropout: float, act: str,
                 final_act: bool, **kwargs: Any) -> None:
        super().__init__()
        hidden_channels = hidden_channels or out_channels
        for i in range(num_layers):
            last = i == num_layers - 1
            self.add_module(f"Layer_{i}", GeneralLayer(
                name, in_channels if i == 0 else hidden_channels, out_channels if last else hidden_channels,
                has_batch_norm, has_l2_norm, dropout, None if last and not final_act else act, **kwargs))

    def forward(self, x: Tensor, edge_index: Optional[Tensor] = None) -> Tensor:
        for layer in self.children():
            x = layer(x, edge_index)
        return x


class MLP(torch.nn.Module):
    """GraphGym's MLP: ``num_layers - 1`` general linear layers then a linear one (``model``)."""

    def __init__(self, in_channels: int, out_channels: int, hidden_channels: Optional[int], num_layers: int,
                 has_batch_norm: bool = True, has_l2_norm: bool = True, dropout: float = 0.2, act: str = "relu",
                 **kwargs: Any) -> None:
        super().__init__()
        hidden_channels = hidden_channels or in_channels
        layers = []
        if num_layers > 1:
            layers.append(GeneralMultiLayer("linear", in_channels, hidden_channels, hidden_channels, num_layers - 1,
                                            has_batch_norm, has_l2_norm, dropout, act, final_act=True, **kwargs))
        layers.append(Linear(hidden_channels, out_channels, bias=True))
        self.model = torch.nn.Sequential(*layers)

    def forward(self, x: Tensor) -> Tensor:
        return self.model(x)


class GNNStackStage(torch.nn.Module):
    """``num_layers`` message-passing :class:`GeneralLayer` s (``layer0``, ...) with skip
    connections (``"skipsum"``, ``"skipconcat"`` or none) and a final L2 normalisation."""

    def __init__(self, in_channels: int, out_channels: int, num_layers: int, layer_type: str,
                 stage_type: str = "skipsum", final_l2_norm: bool = True, has_batch_norm: bool = True,
                 has_l2_norm: bool = True, dropout: float = 0.2, act: Optional[str] = "relu") -> None:
        super().__init__()
        self.num_layers = num_layers
        self.stage_type = stage_type
        self.final_l2_norm = final_l2_norm
        for i in range(num_layers):
            if stage_type == "skipconcat":
                d_in = in_channels + i * out_channels
            else:
                d_in = in_channels if i == 0 else out_channels
            self.add_module(f"layer{i}", GeneralLayer(layer_type, d_in, out_channels, has_batch_norm, has_l2_norm,
                                                      dropout, act))

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for i, layer in enumerate(self.children()):
            out = layer(x, edge_index)
            if self.stage_type == "skipsum":
                out = x + out
            elif self.stage_type == "skipconcat" and i < self.num_layers - 1:
                out = torch.cat([x, out], dim=1)
            x = out
        return F.normalize(x, p=2, dim=-1) if self.final_l2_norm else x


class GNNInductiveHybridMultiHead(torch.nn.Module):
    """GPSE's pre-training head: one MLP per node target and one for the graph targets (after
    pooling); returns ``(pred, true)`` stacked as PyG's (virtual nodes' rows left out)."""

    def __init__(self, dim_in: int, dim_out: int, num_node_targets: int, num_graph_targets: int,
                 layers_post_mp: int, virtual_node: bool = True, multi_head_dim_inner: int = 32,
                 graph_pooling: str = "add", has_bn: bool = True, has_l2norm: bool = True, dropout: float = 0.2,
                 act: str = "relu") -> None:
        super().__init__()
        pools = {"add": global_add_pool, "max": global_max_pool, "mean": global_mean_pool}
        self.node_target_dim = num_node_targets
        self.graph_target_dim = num_graph_targets
        self.virtual_node = virtual_node
        self.node_post_mps = torch.nn.ModuleList([
            MLP(dim_in, 1, multi_head_dim_inner, layers_post_mp, has_bn, has_l2norm, dropout, act)
            for _ in range(self.node_target_dim)])
        self.graph_pooling = pools[graph_pooling]
        self.graph_post_mp = MLP(dim_in, self.graph_target_dim, dim_in, layers_post_mp, has_bn, has_l2norm, dropout,
                                 act)

    def forward(self, x: Tensor, batch: Optional[Tensor], y: Tensor, y_graph: Tensor) -> Tuple[Tensor, Tensor]:
        node_pred = torch.hstack([mlp(x) for mlp in self.node_post_mps])
        graph_pred = self.graph_post_mp(self.graph_pooling(x, batch))
        node_true = y
        if self.virtual_node:  # each graph's last node is its virtual node (eager: reads the batch)
            index = batch if batch is not None else torch.zeros(x.size(0), dtype=torch.long, device=x.device)
            last = torch.ones_like(index, dtype=torch.bool)
            last[:-1] = index[1:] != index[:-1]
            node_pred, node_true = node_pred[~last], node_true[~last]
        pad_node, pad_graph = self.node_target_dim, self.graph_target_dim
        pred = torch.vstack([F.pad(node_pred, (0, pad_graph)), F.pad(graph_pred, (pad_node, 0))])
        true = torch.vstack([F.pad(node_true, (0, pad_graph)), F.pad(y_graph, (pad_node, 0))])
        return pred, true


class IdentityHead(torch.nn.Module):
    """The pretrained encoder's head: the representations themselves (and the targets)."""

    def forward(self, x: Tensor, batch: Optional[Tensor], y: Optional[Tensor], y_graph: Optional[Tensor]):
        return x, y


class GPSE(torch.nn.Module):
    """PyG's GPSE (module docstring): ``forward(graph)`` on anything with ``x``,
    ``edge_index`` and, for batches, ``batch`` (and ``y``, ``y_graph`` for the pre-training
    head) returns the head's ``(pred, true)``; with :class:`IdentityHead` (a pretrained
    encoder) ``(encodings, y)``. PyG's arguments and defaults."""

    def __init__(self, dim_in: int = 20, dim_out: int = 51, dim_inner: int = 512,
                 layer_type: str = "resgatedgcnconv", layers_pre_mp: int = 1, layers_mp: int = 20,
                 layers_post_mp: int = 2, num_node_targets: int = 51, num_graph_targets: int = 11,
                 stage_type: str = "skipsum", has_bn: bool = True, head_bn: bool = False, final_l2norm: bool = True,
                 has_l2norm: bool = True, dropout: float = 0.2, has_act: bool = True, final_act: bool = True,
                 act: str = "relu", virtual_node: bool = True, multi_head_dim_inner: int = 32,
                 graph_pooling: str = "add", use_repr: bool = True, repr_type: str = "no_post_mp",
                 bernoulli_threshold: float = 0.5) -> None:
        super().__init__()
        self.use_repr = use_repr
        self.repr_type = repr_type
        self.bernoulli_threshold = bernoulli_threshold
        if layers_pre_mp > 0:
            self.pre_mp = GeneralMultiLayer("linear", dim_in, dim_inner, dim_inner, layers_pre_mp, has_bn, has_l2norm,
                                            dropout, act, final_act)
            dim_in = dim_inner
        if layers_mp > 0:
            self.mp = GNNStackStage(dim_in, dim_inner, layers_mp, layer_type, stage_type, final_l2norm, has_bn,
                                    has_l2norm, dropout, act if has_act else None)
        self.post_mp = GNNInductiveHybridMultiHead(dim_inner, dim_out, num_node_targets, num_graph_targets,
                                                   layers_post_mp, virtual_node, multi_head_dim_inner, graph_pooling,
                                                   head_bn, has_l2norm, dropout, act)

    def reset_parameters(self) -> None:
        """Nothing to reset (PyG's does nothing either: its layers draw when built)."""

    @classmethod
    def from_pretrained(cls, name: str, root: str = "GPSE_pretrained"):
        raise NotImplementedError("GPSE.from_pretrained: gnnx downloads nothing and unpickles no checkpoints; "
                                  "load the weights with GPSE.load_pretrained_state(state_dict) instead")

    @classmethod
    def load_pretrained_state(cls, model_state: Dict[str, Tensor], **kwargs: Any) -> "GPSE":
        """A pretrained encoder from a checkpoint's ``model_state`` (keys prefixed by the
        training wrapper's name, which is dropped, as PyG's ``from_pretrained`` does), in eval
        mode, its head replaced by ``repr_type``'s."""
        model = cls(**kwargs)
        model.load_state_dict(OrderedDict((key.split(".", 1)[1], value) for key, value in model_state.items()))
        if model.use_repr:
            if model.repr_type == "one_layer_before":  # PyG's path names a head layer GPSE's head has not
                raise ValueError("GPSE: repr_type 'one_layer_before' needs a head with 'layer_post_mp', which "
                                 "GPSE's multi-head has not (PyG's from_pretrained fails there too)")
            if model.repr_type == "no_post_mp":
                model.post_mp = IdentityHead()
            else:
                raise ValueError(f"Unknown type '{model.repr_type}'")
        return model.eval()

    def forward(self, graph: Any) -> Tuple[Tensor, Optional[Tensor]]:
        x, edge_index = graph.x, graph.edge_index
        if x is None or x.dim() != 2:
            raise ValueError(f"GPSE: the graph needs node features x of shape [N, F], got "
                             f"{None if x is None else list(x.shape)}")
        if hasattr(self, "pre_mp"):  # absent with layers_pre_mp=0, as "mp" with layers_mp=0
            x = self.pre_mp(x)
        if hasattr(self, "mp"):
            x = self.mp(x, edge_index)
        return self.post_mp(x, getattr(graph, "batch", None), getattr(graph, "y", None),
                            getattr(graph, "y_graph", None))


class GPSENodeEncoder(torch.nn.Module):
    """Node features joined with a learnt projection of their GPSE encodings (PyG's):
    ``[x or W x, MLP(BN(dropout(pe)))]``, ``dim_emb`` wide in all."""

    def __init__(self, dim_emb: int, dim_pe_in: int, dim_pe_out: int, dim_in: Optional[int] = None,
                 expand_x: bool = False, norm_type: Optional[str] = "batchnorm", model_type: str = "mlp",
                 n_layers: int = 2, dropout_be: float = 0.5, dropout_ae: float = 0.2) -> None:
        super().__init__()
        if dim_emb <= dim_pe_out:
            raise ValueError("Desired GPSE dimension (dim_pe_out) must be smaller than the final node embedding "
                             "dimension (dim_emb).")
        if expand_x:
            self.linear_x = torch.nn.Linear(dim_in, dim_emb - dim_pe_out)
        self.expand_x = expand_x
        self.raw_norm = torch.nn.BatchNorm1d(dim_pe_in) if norm_type == "batchnorm" else None
        self.dropout_be = torch.nn.Dropout(p=dropout_be)
        self.dropout_ae = torch.nn.Dropout(p=dropout_ae)
        if model_type == "mlp":
            widths = [dim_pe_in, dim_pe_out] if n_layers == 1 else [dim_pe_in] + [2 * dim_pe_out] * (n_layers - 1) + [
                dim_pe_out]
            layers = []
            for a, b in zip(widths, widths[1:]):
                layers += [torch.nn.Linear(a, b), torch.nn.ReLU()]
            self.pe_encoder = torch.nn.Sequential(*layers)
        elif model_type == "linear":
            self.pe_encoder = torch.nn.Linear(dim_pe_in, dim_pe_out)
        else:
            raise ValueError(f"{type(self).__name__}: Does not support '{model_type}' encoder model.")

    def forward(self, x: Tensor, pos_enc: Tensor) -> Tensor:
        pos_enc = self.dropout_be(pos_enc)
        if self.raw_norm is not None:
            pos_enc = self.raw_norm(pos_enc)
        pos_enc = self.dropout_ae(self.pe_encoder(pos_enc))
        return torch.cat((self.linear_x(x) if self.expand_x else x, pos_enc), 1)


def random_features(num_nodes: int, dim_in: int, rand_type: str = "NormalSE",
                    bernoulli_thresh: float = 0.5) -> Tensor:
    """GPSE's random input features (numpy's global generator, as PyG's): ``"NormalSE"``,
    ``"UniformSE"`` or ``"BernoulliSE"``."""
    if rand_type == "NormalSE":
        rand = np.random.normal(loc=0, scale=1.0, size=(num_nodes, dim_in))
    elif rand_type == "UniformSE":
        rand = np.random.uniform(low=0.0, high=1.0, size=(num_nodes, dim_in))
    elif rand_type == "BernoulliSE":
        rand = np.random.uniform(low=0.0, high=1.0, size=(num_nodes, dim_in)) < bernoulli_thresh
    else:
        raise ValueError(f"Unknown rand_type={rand_type!r}")
    return torch.from_numpy(rand.astype("float32"))


@torch.no_grad()
def gpse_process(model: GPSE, graph: Any, rand_type: str = "NormalSE", use_vn: bool = True,
                 bernoulli_thresh: float = 0.5) -> Tensor:
    """The encodings of ``graph``'s nodes (CPU): ``model`` on random features, the last node
    (a virtual node, where ``use_vn``) given zeros, as PyG's ``gpse_process`` without its
    neighbour-loader mode."""
    dim_in = next(iter(model.state_dict().values())).shape[1]
    x = random_features(graph.num_nodes, dim_in, rand_type, bernoulli_thresh)
    if use_vn:
        x[-1] = 0
    x = x.to(graph.edge_index.device)
    graph = graph.replace(x=x) if hasattr(graph, "replace") else _with_x(graph, x)
    out, _ = model(graph)
    return out.cpu()


def _with_x(graph: Any, x: Tensor) -> Any:
    graph = graph.clone()
    graph.x = x
    return graph


__all__ = ["GPSE", "GPSENodeEncoder", "gpse_process"]
