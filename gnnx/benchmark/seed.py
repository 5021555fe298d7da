"""The seed benchmark on the user's path: code written the PyG way, next to PyG.

Graph: 10,000 nodes, 200,000 random edges, 64 features. Models: ``Model(64, 64,
num_layers=3)`` with default arguments (GCN normalises in the forward, as PyG's does),
called as ``model(x, edge_index)`` with a bare ``edge_index``. Modes:

* ``pyg_eager``, ``pyg_compiled`` (``torch.compile(model)``),
* ``gnnx_eager``, ``gnnx_compile`` (``gnnx.compile(model)``: structure cache, CUDA graphs),
* ``floor`` (:class:`LoopFloor`: the same loop without message passing, eager), the
  cost no GNN library can go under with the optimizer step outside the model.

Passes: ``train`` (an ordinary step: ``zero_grad``, forward, cross-entropy, ``backward``,
``Adam.step``) and ``infer`` (eval mode, ``no_grad`` forward). Times are milliseconds per
step, best of 3 rounds. PyG gets gnnx's weights; outputs are compared.

``python -m gnnx.benchmark.seed --device cuda`` (one process: ratios from one process);
``--device cpu --isolate`` runs each compiling configuration in its own process.
"""
from __future__ import annotations

import argparse
import json
from typing import Any, Callable, Dict, List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor

from gnnx.benchmark import harness

NODES, EDGES, FEATURES, LAYERS = 10_000, 200_000, 64, 3
MODELS = ["GCN", "GraphSAGE", "GIN", "GAT", "EdgeCNN"]
MODES = ["pyg_eager", "pyg_compiled", "gnnx_eager", "gnnx_compile"]
EXTRA_MODES = ["floor"]  # one row per table: the loop without message passing


def seed_graph(device: str, nodes: int = NODES, edges: int = EDGES, features: int = FEATURES):
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(nodes, features, generator=gen)
    edge_index = torch.randint(nodes, (2, edges), generator=gen)
    y = torch.randint(features, (nodes,), generator=gen)
    return x.to(device), edge_index.to(device), y.to(device)


class LoopFloor(torch.nn.Module):
    """The ordinary loop's floor: the models' dense layers (three 64x64 linear layers with
    ReLU) without message passing, so a step is loss, backward and ``Adam.step`` over as
    many parameter tensors, plus three matmuls."""

    def __init__(self) -> None:
        super().__init__()
        self.lins = torch.nn.ModuleList(torch.nn.Linear(FEATURES, FEATURES) for _ in range(LAYERS))

    def forward(self, x, edge_index):
        for i, lin in enumerate(self.lins):
            x = lin(x) if i == LAYERS - 1 else lin(x).relu()
        return x


def build(name: str, mode: str, device: str) -> torch.nn.Module:
    """The model of ``mode`` (PyG's loads gnnx's weights, so both compute the same)."""
    import gnnx
    import gnnx.nn

    torch.manual_seed(0)
    if mode == "floor":
        return LoopFloor().to(device)
    model = getattr(gnnx.nn, name)(FEATURES, FEATURES, LAYERS).to(device)
    if mode.startswith("pyg"):
        import torch_geometric.nn.models as pyg_models

        theirs = getattr(pyg_models, name)(FEATURES, FEATURES, LAYERS).to(device)
        theirs.load_state_dict(model.state_dict())
        model = theirs
    return model


def wrap(model: torch.nn.Module, mode: str) -> torch.nn.Module:
    import gnnx

    if mode == "pyg_compiled":
        return torch.compile(model)
    if mode == "gnnx_compile":
        return gnnx.compile(model)
    return model


def loop_steps(call: Callable[[Tensor, Tensor], Tensor], optimizer: torch.optim.Optimizer, x: Tensor,
               edge_index: Tensor, y: Tensor) -> Tuple[Callable[[], Tensor], Callable[[], Tensor]]:
    """The user's ordinary loop on the seed graph: a training step (``zero_grad``, cross-entropy,
    ``backward``, ``optimizer.step``; returns the loss) and a forward without gradients."""

    def train_step() -> Tensor:
        optimizer.zero_grad()
        loss = F.cross_entropy(call(x, edge_index), y)
        loss.backward()
        optimizer.step()
        return loss

    def infer_step() -> Tensor:
        with torch.no_grad():
            return call(x, edge_index)

    return train_step, infer_step


def run_config(name: str, mode: str, device: str, passes: List[str], steps: int) -> Dict[str, Any]:
    """Time one model in one mode; returns ms per step per pass (and the output checksum)."""
    x, edge_index, y = seed_graph(device)
    model = build(name, mode, device)
    call = wrap(model, mode)
    row: Dict[str, Any] = {}
    train_step, infer_step = loop_steps(call, torch.optim.Adam(model.parameters(), lr=1e-3), x, edge_index, y)
    if "train" in passes:
        model.train()
        row["train"] = _timed(train_step, device, steps)
    if "infer" in passes:
        model.eval()
        model.load_state_dict(build(name, mode, device).state_dict())  # the same weights in every mode
        row["infer"] = _timed(infer_step, device, steps)
        with torch.no_grad():
            out = call(x, edge_index).double()
        row["checksum"] = [float(out.sum()), float(out.abs().sum())]
    return row


def _timed(step, device: str, steps: int) -> Dict[str, Any]:
    try:
        return harness.time_steps(step, device, steps)
    except Exception as error:  # a failing mode is a result, not the end of the table
        return {"error": f"{type(error).__name__}: {str(error)[:300]}"}


def main(argv: List[str] = None) -> Dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--models", nargs="*", default=MODELS)
    parser.add_argument("--modes", nargs="*", default=MODES)
    parser.add_argument("--passes", nargs="*", default=None, help="train and/or infer (CPU default: infer)")
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--isolate", action="store_true", help="each compiling configuration in its own process")
    parser.add_argument("--out", default=None, help="folder for seed_pyg_way.{json,md}")
    parser.add_argument("--one", nargs=2, metavar=("MODEL", "MODE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    cuda = args.device.startswith("cuda")
    passes = args.passes or (["train", "infer"] if cuda else ["infer"])
    steps = args.steps or (100 if cuda else 5)
    if args.one:
        print(json.dumps(run_config(*args.one, args.device, passes, steps)))
        return {}
    results: Dict[str, Any] = {"environment": harness.environment(args.device), "passes": passes,
                               "graph": {"nodes": NODES, "edges": EDGES, "features": FEATURES, "layers": LAYERS},
                               "isolated": args.isolate, "models": {}}
    if "floor" not in args.modes and not args.isolate:
        results["floor"] = run_config("floor", "floor", args.device, passes, steps)
        print("floor", json.dumps(results["floor"]), flush=True)
    results["models"] = harness.run_table(
        "gnnx.benchmark.seed", args.models, args.modes, lambda name, mode: run_config(name, mode, args.device, passes, steps),
        ["--device", args.device, "--passes", *passes, "--steps", str(steps)], args.isolate)
    return harness.report(args.out, "seed_pyg_way", results, render)


def render(results: Dict[str, Any]) -> str:
    env = results["environment"]
    lines = [f"Seed graph, the PyG way (bare `edge_index`, default arguments), {env['device']}, torch {env['torch']}, "
             f"PyG {env.get('torch_geometric')}, triton {env.get('triton')}; ms per step, best of 3 "
             f"(ratio: PyG eager / gnnx, PyG compiled / gnnx)\n",
             "| model | pass | PyG eager | PyG compiled | gnnx eager | gnnx.compile | eager vs PyG eager "
             "| gnnx.compile vs PyG eager | vs PyG compiled |",
             "|---|---|---|---|---|---|---|---|---|"]

    def ms(row, mode, kind):
        cell = row.get(mode, {}).get(kind, {})
        return cell.get("best_ms") if isinstance(cell, dict) else None

    for name, row in results["models"].items():
        for kind in results["passes"]:
            pe, pc, ge, gc = (ms(row, m, kind) for m in MODES)
            fmt = lambda v: "fail" if v is None else f"{v:.2f}"  # noqa: E731
            lines.append(f"| {name} | {kind} | {fmt(pe)} | {fmt(pc)} | {fmt(ge)} | {fmt(gc)} | "
                         f"{harness.ratio(pe, ge)} | {harness.ratio(pe, gc)} | {harness.ratio(pc, gc)} |")
    floor = results.get("floor")
    if floor:
        lines.append("\nLoop floor (three linear layers, no message passing; loss, backward and Adam in the "
                     "same ordinary loop): " + ", ".join(f"{kind} {floor[kind]['best_ms']:.2f} ms"
                                                         for kind in results["passes"] if "best_ms" in floor.get(kind, {})))
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
