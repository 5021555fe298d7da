"""Link-prediction evaluation of knowledge-graph embeddings, gnnx vs PyG in one process.

A TransE and a ComplEx model the size of FB15k-237 (14,541 entities, 237 relations, 50 and
100 channels), the same weights in both libraries, ``test()`` (mean rank, MRR, Hits@10 over
every tail) on random test triples with the default-style ``batch_size=20000``: PyG scores one
triple at a time, gnnx blocks of triples at once. Seconds per evaluation (best of 3) and the
metrics, which must agree. Usage: python bench/kge_test.py [--triples 500] [--out DIR]
"""
from __future__ import annotations

import argparse
import time

import torch

import gnnx.nn as G
from gnnx.benchmark import harness

NODES, RELATIONS = 14_541, 237


def best_seconds(fn, repeats: int = 3) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--triples", type=int, default=500)
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    import torch_geometric
    import torch_geometric.nn as P

    gen = torch.Generator().manual_seed(0)
    triples = (torch.randint(NODES, (args.triples,), generator=gen), torch.randint(RELATIONS, (args.triples,), generator=gen),
               torch.randint(NODES, (args.triples,), generator=gen))
    results = {"environment": harness.environment("cpu"), "torch_geometric": torch_geometric.__version__,
               "entities": NODES, "relations": RELATIONS, "triples": args.triples, "batch_size": 20_000, "models": {}}
    rows = []
    for name, hidden in (("TransE", 50), ("ComplEx", 100)):
        pyg = getattr(P, name)(NODES, RELATIONS, hidden)
        ours = getattr(G, name)(NODES, RELATIONS, hidden)
        ours.load_state_dict(pyg.state_dict())
        metrics = {lib: model.test(*triples, batch_size=20_000, log=False) for lib, model in (("pyg", pyg), ("gnnx", ours))}
        seconds = {lib: best_seconds(lambda m=model: m.test(*triples, batch_size=20_000, log=False))
                   for lib, model in (("pyg", pyg), ("gnnx", ours))}
        results["models"][name] = {"hidden": hidden, "seconds": seconds, "metrics": metrics}
        rows.append(f"| {name} | {hidden} | {seconds['pyg']:.2f} | {seconds['gnnx']:.3f} | "
                    f"{harness.ratio(seconds['pyg'], seconds['gnnx'])} | "
                    f"{metrics['pyg'][0]:.1f} / {metrics['pyg'][1]:.4f} / {metrics['pyg'][2]:.3f} | "
                    f"{metrics['gnnx'][0]:.1f} / {metrics['gnnx'][1]:.4f} / {metrics['gnnx'][2]:.3f} |")
        print(rows[-1], flush=True)
    env = results["environment"]
    markdown = "\n".join([
        f"KGE link-prediction evaluation (`test()`, every tail), {NODES:,} entities, {args.triples} test triples, "
        f"batch_size 20000; {env['device']}, {env.get('threads')} threads, torch {env['torch']}, "
        f"PyG {torch_geometric.__version__}; seconds, best of 3",
        "",
        "| model | channels | PyG | gnnx | gnnx vs PyG | PyG mean rank / MRR / Hits@10 | gnnx mean rank / MRR / Hits@10 |",
        "|---|---|---|---|---|---|---|",
        *rows, ""])
    harness.report(args.out, "kge_test", results, lambda _: markdown)


if __name__ == "__main__":
    main()
