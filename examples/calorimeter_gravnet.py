"""Particle-physics example: cluster calorimeter hits into particles with GravNet.

Data: a synthetic sampling calorimeter. Each event holds 2-5 particles; each particle
enters at a random (x, y), and its shower deposits hits over depth layers, spreading
sideways with depth, with exponentially falling energy (plus a few noise-free
overlaps between showers). A hit is (x, y, layer, energy); its label is the particle it
came from.

Model: two ``GravNetConv`` layers learn a space where hits of one shower are close; an
edge head scores each candidate edge (the hits' 8 nearest neighbours in detector space,
``gnnx.ops.knn_graph`` inside the model) as "same particle". Clusters are the connected
components of the edges scored above 0.5; the metric is the adjusted Rand index (ARI)
against the true particles on held-out events.

The trained model is exported with ``torch.export`` with a dynamic number of hits (kNN
and all) and the exported program is checked against eager on events of other sizes.

Run: ``.venv/bin/python examples/calorimeter_gravnet.py [--events 400] [--epochs 15] [--out-dir DIR]``.
"""
import argparse
import json
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F
from torch.export import Dim

from gnnx.nn import GravNetConv
from gnnx.ops import knn_graph

K = 8             # candidate edges per hit
MIN_HITS = 13     # the export's smallest event: more hits than GravNet's k = 12


def make_event(gen: torch.Generator, layers: int = 8):
    """Hits ``[N, 4]`` (x, y, layer, energy) and their particle labels ``[N]``."""
    num_particles = int(torch.randint(2, 6, (1,), generator=gen))
    hits, labels = [], []
    for p in range(num_particles):
        centre = torch.rand(2, generator=gen) * 8.0
        energy = 5.0 + 20.0 * float(torch.rand(1, generator=gen))
        for layer in range(layers):
            count = int(energy * np.exp(-0.3 * layer)) + 1
            spread = 0.15 + 0.08 * layer
            xy = centre + spread * torch.randn(count, 2, generator=gen)
            e = torch.rand(count, generator=gen) * energy * np.exp(-0.3 * layer) / count
            hits.append(torch.cat([xy, torch.full((count, 1), float(layer)), e.unsqueeze(1)], 1))
            labels.append(torch.full((count,), p, dtype=torch.long))
    return torch.cat(hits), torch.cat(labels)


def features(hits: torch.Tensor) -> torch.Tensor:
    """Scaled inputs: positions in detector units, log energy."""
    return torch.cat([hits[:, :2] / 8.0, hits[:, 2:3] / 8.0, torch.log1p(hits[:, 3:4])], 1)


class HitClusterer(torch.nn.Module):
    """GravNet embedding + edge scoring over the detector-space kNN graph."""

    def __init__(self, hidden: int = 32) -> None:
        super().__init__()
        self.g1 = GravNetConv(4, hidden, space_dimensions=4, propagate_dimensions=16, k=12)
        self.g2 = GravNetConv(hidden, hidden, space_dimensions=4, propagate_dimensions=16, k=12)
        self.edge_mlp = torch.nn.Sequential(torch.nn.Linear(3 * hidden + 1, hidden), torch.nn.ReLU(),
                                            torch.nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor):
        h = F.elu(self.g1(x))
        h = F.elu(self.g2(h))
        edge_index = knn_graph(x[:, :3], K)  # candidates: neighbours in detector space
        src, dst = edge_index[0], edge_index[1]
        gap = (x[src, :3] - x[dst, :3]).norm(dim=-1, keepdim=True)
        pair = torch.cat([h[src] + h[dst], (h[src] - h[dst]).abs(), h[src] * h[dst], gap], 1)
        return edge_index, self.edge_mlp(pair).squeeze(-1)


def components(num_nodes: int, edges: np.ndarray) -> np.ndarray:
    """Connected components (union-find) of the kept edges: a cluster id per hit."""
    parent = np.arange(num_nodes)

    def find(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for a, b in edges.T:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    return np.array([find(i) for i in range(num_nodes)])


def adjusted_rand_index(truth: np.ndarray, pred: np.ndarray) -> float:
    """ARI of two labelings (Hubert & Arabie), from their contingency table."""
    _, t = np.unique(truth, return_inverse=True)
    _, p = np.unique(pred, return_inverse=True)
    table = np.zeros((t.max() + 1, p.max() + 1))
    np.add.at(table, (t, p), 1)
    comb = lambda n: n * (n - 1) / 2.0  # noqa: E731
    index = comb(table).sum()
    rows, cols, total = comb(table.sum(1)).sum(), comb(table.sum(0)).sum(), comb(len(truth))
    expected = rows * cols / total
    best = (rows + cols) / 2.0
    return float((index - expected) / (best - expected)) if best != expected else 1.0


def evaluate(model, events, threshold: float) -> float:
    """Mean ARI of the clusters from edges with probability above ``threshold``."""
    scores = []
    model.eval()
    cut = float(np.log(threshold / (1 - threshold)))
    with torch.no_grad():
        for hits, labels in events:
            edge_index, logits = model(features(hits))
            kept = edge_index[:, logits > cut].numpy()
            scores.append(adjusted_rand_index(labels.numpy(), components(hits.size(0), kept)))
    return float(np.mean(scores))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=400)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--min-ari", type=float, default=0.0, help="exit 1 if the held-out ARI is lower")
    parser.add_argument("--out-dir", default=".")
    args = parser.parse_args()
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(0)
    events = [make_event(gen) for _ in range(args.events)]
    split, valid_split = int(0.7 * len(events)), int(0.8 * len(events))
    train, valid, test = events[:split], events[split:valid_split], events[valid_split:]
    model = HitClusterer()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    started = time.perf_counter()
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for hits, labels in train:
            edge_index, logits = model(features(hits))
            target = (labels[edge_index[0]] == labels[edge_index[1]]).float()
            loss = F.binary_cross_entropy_with_logits(logits, target)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            total += float(loss.detach())
        print(f"epoch {epoch + 1:3d}  loss {total / len(train):.4f}", flush=True)
    train_seconds = time.perf_counter() - started
    # One false edge merges two showers, so the edge threshold is chosen on validation events.
    threshold = max((0.5, 0.7, 0.9, 0.97), key=lambda t: evaluate(model, valid, t))
    ari = evaluate(model, test, threshold)
    hits_per_event = float(np.mean([h.size(0) for h, _ in events]))
    print(f"held-out adjusted Rand index {ari:.3f} over {len(test)} events, edge threshold {threshold} "
          f"({hits_per_event:.0f} hits per event on average)")

    model.eval()
    example = features(events[0][0])
    program = torch.export.export(model, (example,), dynamic_shapes=({0: Dim("num_hits", min=MIN_HITS)},))
    diffs = []
    with torch.no_grad():
        for hits, _ in test[:5]:
            x = features(hits)
            ref_edges, ref_logits = model(x)
            edges, logits = program.module()(x)
            assert torch.equal(edges, ref_edges)
            diffs.append(float((logits - ref_logits).abs().max()))
    print(f"exported with a dynamic number of hits: max |diff| vs eager {max(diffs):.2e} on {len(diffs)} events")

    os.makedirs(args.out_dir, exist_ok=True)
    result = {"events": len(events), "test_events": len(test), "epochs": args.epochs, "edge_threshold": threshold,
              "hits_per_event": hits_per_event, "held_out_ari": ari, "train_seconds": train_seconds,
              "export_max_abs_diff": max(diffs), "torch": torch.__version__, "device": "cpu"}
    with open(os.path.join(args.out_dir, "calorimeter.json"), "w") as f:
        json.dump(result, f, indent=2)
    return 0 if ari >= args.min_ari else 1


if __name__ == "__main__":
    sys.exit(main())
