"""TGN link prediction on an event stream: PyG's examples/tgn.py, ported by its imports.

The model is PyG's example: a TGN memory (:class:`gnnx.nn.TGNMemory`, identity messages, last
aggregation), a graph attention embedding over each node's 10 latest interactions
(``TransformerConv`` with the time encoding and message as edge features) and a link
predictor, trained to tell each event's destination from a random one. The stream is
generated with the shape of JODIE's Wikipedia set (``gnnx.datasets.temporal_benchmark_stream``;
the real one is a download), split by time 70/15/15.

    python examples/tgn.py --events 20000 --epochs 3      # CPU, about a minute

``build``/``train_epoch``/``evaluate`` take the library (``gnnx`` or ``torch_geometric``) as an
argument, so ``bench/tgn.py`` runs the same loop over both.
"""
from __future__ import annotations

import argparse
import importlib
import time

import torch
from torch.nn import Linear

from gnnx.datasets import temporal_benchmark_stream


def build(lib: str, num_nodes: int, msg_dim: int, dim: int = 100, neighbors: int = 10, device="cpu"):
    """``(memory, gnn, link_pred, neighbor_loader)`` of PyG's example over ``lib``'s classes."""
    nn = importlib.import_module(f"{lib}.nn")
    tgn = importlib.import_module(f"{lib}.nn.models.tgn")

    class GraphAttentionEmbedding(torch.nn.Module):
        def __init__(self, in_channels, out_channels, msg_dim, time_enc):
            super().__init__()
            self.time_enc = time_enc
            self.conv = nn.TransformerConv(in_channels, out_channels // 2, heads=2, dropout=0.1,
                                           edge_dim=msg_dim + time_enc.out_channels)

        def forward(self, x, last_update, edge_index, t, msg):
            rel_t_enc = self.time_enc((last_update[edge_index[0]] - t).to(x.dtype))
            return self.conv(x, edge_index, torch.cat([rel_t_enc, msg], dim=-1))

    memory = nn.TGNMemory(num_nodes, msg_dim, dim, dim, message_module=tgn.IdentityMessage(msg_dim, dim, dim),
                          aggregator_module=tgn.LastAggregator()).to(device)
    gnn = GraphAttentionEmbedding(dim, dim, msg_dim, memory.time_enc).to(device)
    return memory, gnn, LinkPredictor(dim).to(device), tgn.LastNeighborLoader(num_nodes, size=neighbors, device=device)


class LinkPredictor(torch.nn.Module):
    def __init__(self, in_channels: int) -> None:
        super().__init__()
        self.lin_src, self.lin_dst = Linear(in_channels, in_channels), Linear(in_channels, in_channels)
        self.lin_final = Linear(in_channels, 1)

    def forward(self, z_src, z_dst):
        return self.lin_final((self.lin_src(z_src) + self.lin_dst(z_dst)).relu())


def _scores(parts, data, batch, assoc):
    memory, gnn, link_pred, neighbor_loader = parts
    n_id, edge_index, e_id = neighbor_loader(batch.n_id)
    assoc[n_id] = torch.arange(n_id.size(0), device=n_id.device)
    z, last_update = memory(n_id)
    z = gnn(z, last_update, edge_index, data.t[e_id], data.msg[e_id])
    pos = link_pred(z[assoc[batch.src]], z[assoc[batch.dst]])
    neg = link_pred(z[assoc[batch.src]], z[assoc[batch.neg_dst]])
    return pos, neg


def train_epoch(parts, optimizer, data, loader) -> float:
    """One epoch of PyG's loop; returns the mean loss per event."""
    memory, gnn, link_pred, neighbor_loader = parts
    for module in (memory, gnn, link_pred):
        module.train()
    memory.reset_state()
    neighbor_loader.reset_state()
    assoc = torch.empty(data.num_nodes, dtype=torch.long, device=data.src.device)
    criterion = torch.nn.BCEWithLogitsLoss()
    total, count = 0.0, 0
    for batch in loader:
        optimizer.zero_grad()
        pos, neg = _scores(parts, data, batch, assoc)
        loss = criterion(pos, torch.ones_like(pos)) + criterion(neg, torch.zeros_like(neg))
        memory.update_state(batch.src, batch.dst, batch.t, batch.msg)
        neighbor_loader.insert(batch.src, batch.dst)
        loss.backward()
        optimizer.step()
        memory.detach()
        total += float(loss.detach()) * len(batch)
        count += len(batch)
    return total / count


def average_precision(scores, labels) -> float:
    """Area under the precision-recall curve, as a step function (sklearn's for distinct scores)."""
    order = torch.argsort(scores, descending=True)
    hits = labels[order].double()
    precision = torch.cumsum(hits, 0) / torch.arange(1, hits.numel() + 1, dtype=torch.float64)
    return float((precision * hits).sum() / hits.sum().clamp(min=1))


@torch.no_grad()
def evaluate(parts, data, loader) -> float:
    """Mean average precision over the loader's batches (events then join the memory)."""
    memory, gnn, link_pred, neighbor_loader = parts
    for module in (memory, gnn, link_pred):
        module.eval()
    assoc = torch.empty(data.num_nodes, dtype=torch.long, device=data.src.device)
    aps = []
    for batch in loader:
        pos, neg = _scores(parts, data, batch, assoc)
        scores = torch.cat([pos, neg]).view(-1).cpu()
        labels = torch.cat([torch.ones(pos.size(0)), torch.zeros(neg.size(0))])
        aps.append(average_precision(scores, labels))
        memory.update_state(batch.src, batch.dst, batch.t, batch.msg)
        neighbor_loader.insert(batch.src, batch.dst)
    return sum(aps) / len(aps)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=0.001, help="PyG's example: 0.0001 over 50 epochs")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    args = parser.parse_args()
    from gnnx.data import TemporalDataLoader

    torch.manual_seed(0)
    data = temporal_benchmark_stream(num_events=args.events).to(args.device)
    train, val, test = data.train_val_test_split(val_ratio=0.15, test_ratio=0.15)
    loaders = [TemporalDataLoader(split, batch_size=200, neg_sampling_ratio=1.0) for split in (train, val, test)]
    parts = build("gnnx", data.num_nodes, data.msg.size(-1), device=args.device)
    params = {p for module in parts[:3] for p in module.parameters()}
    optimizer = torch.optim.Adam(params, lr=args.lr)
    for epoch in range(1, args.epochs + 1):
        started = time.perf_counter()
        loss = train_epoch(parts, optimizer, data, loaders[0])
        seconds = time.perf_counter() - started
        torch.manual_seed(12345)  # the same negatives every epoch
        val_ap = evaluate(parts, data, loaders[1])
        test_ap = evaluate(parts, data, loaders[2])
        print(f"epoch {epoch:02d}  loss {loss:.4f}  val AP {val_ap:.4f}  test AP {test_ap:.4f}  ({seconds:.1f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
