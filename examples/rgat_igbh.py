"""R-GAT (the MLPerf GNN model) on an IGBH-shaped heterogeneous graph, trained on sampled
mini-batches, with a PyG twin from the same builder.

The graph is generated (``gnnx.datasets.hetero_benchmark_graph``: 4 node types, 8 edge
types, power-law degrees, paper classes planted in the neighbourhoods, 60/20/20 split), so
the test accuracy says whether message passing works: a model of the paper's own features
sits near the feature signal, R-GAT well above it. The model is MLPerf's: ``HeteroConv``
of ``GATConv(-1, hidden // heads, heads, add_self_loops=False)`` per edge type, LeakyReLU
and dropout between layers, a linear head on papers.

    python examples/rgat_igbh.py --scale 0.01 --epochs 3           # CPU, about a minute
    python examples/rgat_igbh.py --device cuda --scale 1 --compile --trim  # ~1M nodes, ~10M edges

``--trim`` narrows each layer to the nodes its outputs need (``trim_to_layer``, MLPerf's
``with_trim``); the per-hop counts are Python ints, which ``gnnx.compile`` keeps symbolic:
one compiled graph serves every batch.
"""
from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import gnnx
from gnnx.data import NeighborLoader
from gnnx.datasets import hetero_benchmark_graph
from gnnx.utils import trim_to_layer


class RGAT(torch.nn.Module):
    """MLPerf's R-GAT over the layers of ``nn`` (``gnnx.nn`` or ``torch_geometric.nn``)."""

    def __init__(self, nn, metadata, hidden: int, out_channels: int, num_layers: int = 3, heads: int = 4,
                 dropout: float = 0.2, target: str = "paper") -> None:
        super().__init__()
        self.target, self.dropout = target, dropout
        self.convs = torch.nn.ModuleList(
            nn.HeteroConv({edge_type: nn.GATConv((-1, -1), hidden // heads, heads=heads, add_self_loops=False)
                           for edge_type in metadata[1]})
            for _ in range(num_layers))
        self.lin = torch.nn.Linear(hidden, out_channels)

    def forward(self, x_dict, edge_index_dict, num_sampled_nodes_dict=None, num_sampled_edges_dict=None):
        """With the batch's per-hop counts, each layer's inputs are trimmed to what its outputs
        need (MLPerf's ``with_trim``; the seeds' outputs are the same)."""
        for i, conv in enumerate(self.convs):
            if num_sampled_nodes_dict is not None:
                x_dict, edge_index_dict, _ = trim_to_layer(i, num_sampled_nodes_dict, num_sampled_edges_dict, x_dict,
                                                           edge_index_dict)
            x_dict = conv(x_dict, edge_index_dict)
            if i < len(self.convs) - 1:
                x_dict = {key: F.dropout(F.leaky_relu(x), self.dropout, self.training) for key, x in x_dict.items()}
        return self.lin(x_dict[self.target])


def materialise(model: torch.nn.Module, batch) -> None:
    """Lazy widths (``-1``) from one no-grad call."""
    with torch.no_grad():
        model(batch.x_dict, batch.edge_index_dict)


def evaluate(model, loader) -> float:
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for batch in loader:
            size = batch["paper"].batch_size
            pred = model(batch.x_dict, batch.edge_index_dict)[:size].argmax(-1)
            correct += int((pred == batch["paper"].y[:size]).sum())
            total += size
    return correct / max(total, 1)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=0.01)
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--batches", type=int, default=30, help="training batches per epoch")
    parser.add_argument("--batch-size", type=int, default=1024)
    parser.add_argument("--fanouts", type=int, nargs="+", default=[15, 10, 5])
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--compile", action="store_true", help="gnnx.compile the model")
    parser.add_argument("--trim", action="store_true", help="trim each layer to what its outputs need")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    graph = hetero_benchmark_graph(scale=args.scale).to(args.device)
    papers = graph["paper"]
    print(f"graph: {graph.num_nodes:,} nodes, {graph.num_edges:,} edges, {len(graph.edge_types)} edge types")
    train = NeighborLoader(graph, num_neighbors=args.fanouts, input_nodes=("paper", papers.train_mask),
                           batch_size=args.batch_size, shuffle=True)
    test = NeighborLoader(graph, num_neighbors=args.fanouts, input_nodes=("paper", papers.test_mask),
                          batch_size=args.batch_size)
    model = RGAT(gnnx.nn, graph.metadata(), args.hidden, int(papers.y.max()) + 1, len(args.fanouts),
                 args.heads).to(args.device)
    materialise(model, next(iter(train)))
    step_model = gnnx.compile(model) if args.compile else model
    optimizer = torch.optim.Adam(model.parameters(), lr=0.005)
    for epoch in range(args.epochs):
        model.train()
        started, seen = time.perf_counter(), 0
        for i, batch in enumerate(train):
            if i == args.batches:
                break
            size = batch["paper"].batch_size
            optimizer.zero_grad()
            counts = (batch.num_sampled_nodes_dict, batch.num_sampled_edges_dict) if args.trim else ()
            out = step_model(batch.x_dict, batch.edge_index_dict, *counts)[:size]
            loss = F.cross_entropy(out, batch["paper"].y[:size])
            loss.backward()
            optimizer.step()
            seen += size
        elapsed = time.perf_counter() - started
        print(f"epoch {epoch} loss {loss.item():.3f} {seen / elapsed:,.0f} seeds/s (sampling included)")
    accuracy = evaluate(model, test)
    classes = int(papers.y.max()) + 1
    print(f"test accuracy {accuracy:.3f} (papers' own features only: {features_only(papers, classes):.3f}, "
          f"chance {1 / classes:.3f})")
    return 0


def features_only(papers, classes: int) -> float:
    """The planted signal's floor: a linear classifier of each paper's own features."""
    torch.manual_seed(0)
    lin = torch.nn.Linear(papers.x.size(1), classes).to(papers.x.device)
    optimizer = torch.optim.Adam(lin.parameters(), lr=0.01)
    for _ in range(200):
        optimizer.zero_grad()
        F.cross_entropy(lin(papers.x[papers.train_mask]), papers.y[papers.train_mask]).backward()
        optimizer.step()
    with torch.no_grad():
        pred = lin(papers.x[papers.test_mask]).argmax(-1)
    return (pred == papers.y[papers.test_mask]).float().mean().item()


if __name__ == "__main__":
    raise SystemExit(main())
