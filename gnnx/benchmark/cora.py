"""A Cora training loop the PyG way, gnnx next to PyG: time per epoch.

Cora (2,708 nodes, 10,556 edges, 1,433 features, 7 classes, shipped with gnnx), a
two-layer model of width 16 with default arguments (``GCN``, ``GraphSAGE``, ``GAT``),
Adam, cross-entropy on the training mask, the data as plain tensors (``x``,
``edge_index``). Modes: ``pyg_eager``, ``gnnx_eager``, ``gnnx_compile``. PyG gets gnnx's
weights. Each mode runs in its own process with ``--isolate``.

``python -m gnnx.benchmark.cora --out bench/results/cpu``
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Dict, List

import torch
import torch.nn.functional as F

from gnnx.benchmark import harness

MODELS = ["GCN", "GraphSAGE", "GAT"]
MODES = ["pyg_eager", "gnnx_eager", "gnnx_compile"]
HIDDEN = 16


def run_config(name: str, mode: str, device: str, epochs: int) -> Dict[str, Any]:
    import gnnx
    import gnnx.nn
    from gnnx.datasets import Planetoid

    data = Planetoid("Cora")[0]
    x, edge_index, y, mask = (t.to(device) for t in (data.x, data.edge_index, data.y, data.train_mask))
    torch.manual_seed(0)
    model = getattr(gnnx.nn, name)(x.size(1), HIDDEN, 2, 7).to(device)
    if mode == "pyg_eager":
        import torch_geometric.nn.models as pyg_models

        theirs = getattr(pyg_models, name)(x.size(1), HIDDEN, 2, 7).to(device)
        theirs.load_state_dict(model.state_dict())
        model = theirs
    call = gnnx.compile(model) if mode == "gnnx_compile" else model
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)

    def epoch():
        optimizer.zero_grad()
        loss = F.cross_entropy(call(x, edge_index)[mask], y[mask])
        loss.backward()
        optimizer.step()
        return loss

    model.train()
    timing = harness.time_steps(epoch, device, epochs, warmup=5)
    return {"train": timing, "final_loss": float(epoch())}


def main(argv: List[str] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--modes", nargs="*", default=MODES)
    parser.add_argument("--epochs", type=int, default=50)
    parser.add_argument("--isolate", action="store_true")
    parser.add_argument("--out", default=None)
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_config(*args.one, args.device, args.epochs)))
        return {}
    results: Dict[str, Any] = {"environment": harness.environment(args.device), "epochs": args.epochs,
                               "isolated": args.isolate, "models": {}}
    results["models"] = harness.run_table(
        "gnnx.benchmark.cora", args.models, args.modes, lambda name, mode: run_config(name, mode, args.device, args.epochs),
        ["--device", args.device, "--epochs", str(args.epochs)], args.isolate)
    return harness.report(args.out, "cora_training", results, render)


def render(results: Dict[str, Any]) -> str:
    env = results["environment"]
    lines = [f"Cora training loop (2 layers of {HIDDEN}, default arguments, Adam), {env['device']}, "
             f"{env['threads']} threads, torch {env['torch']}, PyG {env.get('torch_geometric')}; "
             f"ms per epoch, best of 3 rounds of {results['epochs']}\n",
             "| model | PyG eager | gnnx eager | gnnx.compile | eager vs PyG | gnnx.compile vs PyG |",
             "|---|---|---|---|---|---|"]
    for name, row in results["models"].items():
        pe, ge, gc = (row.get(m, {}).get("train", {}).get("best_ms") for m in MODES)
        fmt = lambda v: "fail" if v is None else f"{v:.2f}"  # noqa: E731
        lines.append(f"| {name} | {fmt(pe)} | {fmt(ge)} | {fmt(gc)} | {harness.ratio(pe, ge)} | {harness.ratio(pe, gc)} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
