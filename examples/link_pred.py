"""Link prediction on Cora with a two-layer GCN: PyG's ``examples/link_pred.py`` protocol,
gnnx eager, ``gnnx.compile`` and PyG (when installed) side by side on the same split.

Protocol: features row-normalised, ``RandomLinkSplit(num_val=0.05, num_test=0.1,
is_undirected=True, add_negative_train_samples=False)``, fresh negatives each epoch,
``BCEWithLogitsLoss`` on inner products of GCN(128)-GCN(64) embeddings, Adam (lr 0.01), 100
epochs; the test AUC at the best validation AUC is reported.

    python examples/link_pred.py [--epochs 100] [--root DIR] [--out bench/results/cpu]
"""
from __future__ import annotations

import argparse
import json
import os
import time

import torch
import torch.nn.functional as F

import gnnx
import gnnx.transforms as T
from gnnx.datasets import Planetoid
from gnnx.nn.autoencoder import roc_auc_score
from gnnx.utils import negative_sampling


class Encoder(torch.nn.Module):
    """Two GCN layers (``nn``: ``gnnx.nn`` or ``torch_geometric.nn``)."""

    def __init__(self, nn, in_channels: int, hidden: int = 128, out_channels: int = 64) -> None:
        super().__init__()
        self.conv1 = nn.GCNConv(in_channels, hidden)
        self.conv2 = nn.GCNConv(hidden, out_channels)

    def forward(self, x, edge_index):
        return self.conv2(self.conv1(x, edge_index).relu(), edge_index)


def decode(z, edge_label_index):
    return (z[edge_label_index[0]] * z[edge_label_index[1]]).sum(dim=-1)


def run(encoder, step_encoder, splits, epochs: int, sample_negatives) -> dict:
    train, val, test = splits
    optimizer = torch.optim.Adam(encoder.parameters(), lr=0.01)

    @torch.no_grad()
    def auc(data) -> float:
        encoder.eval()
        out = decode(step_encoder(data.x, data.edge_index), data.edge_label_index).sigmoid()
        return roc_auc_score(data.edge_label, out)

    best_val = final_test = 0.0
    started = time.perf_counter()
    for _ in range(epochs):
        encoder.train()
        optimizer.zero_grad()
        z = step_encoder(train.x, train.edge_index)
        negatives = sample_negatives(train.edge_index, train.num_nodes, train.edge_label_index.size(1))
        edge_label_index = torch.cat([train.edge_label_index, negatives], dim=-1)
        edge_label = torch.cat([train.edge_label, train.edge_label.new_zeros(negatives.size(1))])
        loss = F.binary_cross_entropy_with_logits(decode(z, edge_label_index), edge_label)
        loss.backward()
        optimizer.step()
        val_auc, test_auc = auc(val), auc(test)
        if val_auc > best_val:
            best_val, final_test = val_auc, test_auc
    return {"best_val_auc": best_val, "test_auc": final_test, "seconds": time.perf_counter() - started}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--root", default=None, help="a folder holding Planetoid's raw files (default: the shipped Cora)")
    parser.add_argument("--dataset", default="Cora")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--seeds", type=int, default=1, help="repeat with this many initial seeds (mean, std)")
    parser.add_argument("--out", default=None, help="write link_pred.json / link_pred.md here")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    graph = Planetoid(args.dataset, root=args.root)[0] if args.root else Planetoid(args.dataset)[0]
    graph = T.NormalizeFeatures()(graph)
    splits = T.RandomLinkSplit(num_val=0.05, num_test=0.1, is_undirected=True, add_negative_train_samples=False,
                               generator=torch.Generator().manual_seed(0))(graph)
    features = graph.x.size(1)
    results = {}

    def ours(edge_index, num_nodes, count):
        return negative_sampling(edge_index, num_nodes, count)

    runs = {"gnnx eager": (gnnx.nn, ours, False)}
    if not args.no_compile:
        runs["gnnx.compile"] = (gnnx.nn, ours, True)
    try:
        import torch_geometric
        import torch_geometric.nn as pyg_nn
        from torch_geometric.utils import negative_sampling as pyg_negative_sampling

        def theirs(edge_index, num_nodes, count):
            return pyg_negative_sampling(edge_index, num_nodes=num_nodes, num_neg_samples=count, method="sparse")

        runs[f"PyG {torch_geometric.__version__}"] = (pyg_nn, theirs, False)
    except ImportError:
        pass
    for name, (nn, sampler, compiled) in runs.items():
        per_seed = []
        for seed in range(args.seeds):
            torch.manual_seed(1 + seed)
            encoder = Encoder(nn, features)
            per_seed.append(run(encoder, gnnx.compile(encoder) if compiled else encoder, splits, args.epochs, sampler))
        tests = torch.tensor([r["test_auc"] for r in per_seed])
        results[name] = {"best_val_auc": sum(r["best_val_auc"] for r in per_seed) / len(per_seed),
                         "test_auc": float(tests.mean()), "test_auc_std": float(tests.std()) if len(tests) > 1 else 0.0,
                         "seconds": sum(r["seconds"] for r in per_seed) / len(per_seed), "seeds": len(per_seed)}
    lines = [f"# GCN link prediction on {args.dataset} (PyG's examples/link_pred.py protocol, {args.epochs} "
             f"epochs, CPU, torch {torch.__version__}; {args.seeds} seed(s), one split)", "",
             "| run | best val AUC | test AUC (mean +- std over seeds) | seconds per run |", "|---|---:|---:|---:|"]
    for name, result in results.items():
        lines.append(f"| {name} | {result['best_val_auc']:.4f} | {result['test_auc']:.4f} +- "
                     f"{result['test_auc_std']:.4f} | {result['seconds']:.1f} |")
        print(f"{name:22s} test AUC {result['test_auc']:.4f} (best val {result['best_val_auc']:.4f}), "
              f"{result['seconds']:.1f} s")
    if args.out:
        os.makedirs(args.out, exist_ok=True)
        with open(os.path.join(args.out, "link_pred.json"), "w") as f:
            json.dump({"dataset": args.dataset, "epochs": args.epochs, "torch": torch.__version__,
                       "results": results}, f, indent=1)
        with open(os.path.join(args.out, "link_pred.md"), "w") as f:
            f.write("\n".join(lines) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
