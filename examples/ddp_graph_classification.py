"""Data-parallel training with torch.distributed (DDP), started by torchrun: GIN graph
classification (default) or neighbour-sampled GraphSAGE node classification (``--task node``).

    torchrun --nproc_per_node 2 examples/ddp_graph_classification.py --backend gloo --epochs 5 --out ckpt.pt
    torchrun --nproc_per_node 2 examples/ddp_graph_classification.py --task node --epochs 5 --out ckpt.pt

For ``--task node`` (Cora), every rank shuffles the training seeds with the same generator,
takes its slice of each global seed batch and samples that slice's neighbourhoods itself
(static shapes, with replacement; a rank-specific sampling seed).

Every rank walks the same shuffled order of global batches and takes its contiguous slice
of each one (``global_batch / world_size`` graphs), so with equal slices and a mean loss the
averaged gradients equal a single process on the whole global batch (no batch norm here:
its statistics would be per rank). The checkpoint (model and optimizer ``state_dict`` and
the epoch) is written by rank 0 after every epoch; ``--resume`` continues from it.
"""
import argparse
import os
import sys
import time

import torch
import torch.distributed as dist
import torch.nn.functional as F

from gnnx.data import Batch
from gnnx.datasets import GraphClassification
from gnnx.nn import GIN, global_add_pool


class Classifier(torch.nn.Module):
    def __init__(self, in_channels, hidden, classes):
        super().__init__()
        self.gnn = GIN(in_channels, hidden, 3, hidden)
        self.head = torch.nn.Linear(hidden, classes)

    def forward(self, x, edge_index, batch, num_graphs: int):
        return self.head(global_add_pool(self.gnn(x, edge_index), batch, size=num_graphs))


def resume(args, model, optimizer, device) -> int:
    """Load ``args.out`` into model and optimizer if resuming; returns the first epoch to run."""
    if not (args.resume and os.path.exists(args.out)):
        return 0
    state = torch.load(args.out, map_location=device)
    model.load_state_dict(state["model"])
    optimizer.load_state_dict(state["optimizer"])
    return state["epoch"] + 1


def save_checkpoint(path, model, optimizer, epoch) -> None:
    torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "epoch": epoch}, path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="gloo")
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--global-batch", type=int, default=32)
    parser.add_argument("--out", required=True, help="checkpoint path")
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--dataset", default="MUTAG")
    parser.add_argument("--root", default=None, help="a folder holding the dataset's files (default: the shipped "
                                                     "MUTAG / PROTEINS / PTC, and Cora for --task node)")
    parser.add_argument("--task", choices=["graph", "node"], default="graph")
    parser.add_argument("--hidden", type=int, default=32)
    args = parser.parse_args(argv)
    distributed = "WORLD_SIZE" in os.environ
    if distributed:
        dist.init_process_group(args.backend)
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    if args.global_batch % world:
        raise ValueError(f"global batch {args.global_batch} must divide evenly over {world} ranks")
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', 0))}" if args.backend == "nccl" else "cpu")
    if device.type == "cuda":
        torch.cuda.set_device(device)
    torch.manual_seed(0)
    if args.task == "node":
        return train_nodes(args, rank, world, device, distributed)
    dataset = GraphClassification(args.dataset, root=args.root)
    model = Classifier(dataset.num_features, args.hidden, dataset.num_classes).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start_epoch = resume(args, model, optimizer, device)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    local = args.global_batch // world
    graphs = dataset.graphs
    usable = len(graphs) - len(graphs) % args.global_batch
    for epoch in range(start_epoch, args.epochs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        started = time.perf_counter()
        order = torch.randperm(len(graphs), generator=torch.Generator().manual_seed(epoch))[:usable]
        total = 0.0
        for first in range(0, usable, args.global_batch):
            mine = order[first + rank * local:first + (rank + 1) * local].tolist()
            batch = Batch.from_graphs([graphs[i] for i in mine]).to(device)
            optimizer.zero_grad()
            out = ddp(batch.x, batch.edge_index, batch.batch, batch.num_graphs)
            loss = F.cross_entropy(out, batch.y)
            loss.backward()
            optimizer.step()
            total += float(loss)
        if device.type == "cuda":
            torch.cuda.synchronize()
        elapsed = time.perf_counter() - started
        if rank == 0:
            print(f"epoch {epoch} throughput {usable / elapsed:.0f} graphs/s over {world} rank(s)", flush=True)
            save_checkpoint(args.out, model, optimizer, epoch)
            print(f"epoch {epoch} mean local loss {total / (usable // args.global_batch):.4f}", flush=True)
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


def train_nodes(args, rank, world, device, distributed) -> int:
    from gnnx.data import sample_static
    from gnnx.datasets import Planetoid
    from gnnx.nn import GraphSAGE

    graph = (Planetoid("Cora", root=args.root) if args.root else Planetoid("Cora"))[0].to(device)
    model = GraphSAGE(graph.x.size(1), args.hidden, 2, 7).to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    start_epoch = resume(args, model, optimizer, device)
    ddp = torch.nn.parallel.DistributedDataParallel(model) if distributed else model
    seeds = graph.train_mask.nonzero().view(-1)
    per_rank = args.global_batch // world
    usable = seeds.numel() - seeds.numel() % args.global_batch
    sampler = torch.Generator(device=device).manual_seed(1000 + rank)
    for epoch in range(start_epoch, args.epochs):
        order = seeds[torch.randperm(seeds.numel(), generator=torch.Generator().manual_seed(epoch)).to(device)][:usable]
        total = 0.0
        for first in range(0, usable, args.global_batch):
            mine = order[first + rank * per_rank:first + (rank + 1) * per_rank]
            sub = sample_static(graph, mine, [10, 5], sampler)
            optimizer.zero_grad()
            out = ddp(sub.x, sub.edge_index)[:per_rank]  # the seeds are the first rows
            loss = F.cross_entropy(out, sub.y[:per_rank])
            loss.backward()
            optimizer.step()
            total += float(loss)
        if rank == 0:
            save_checkpoint(args.out, model, optimizer, epoch)
            print(f"epoch {epoch} mean local loss {total / max(usable // args.global_batch, 1):.4f}", flush=True)
    if rank == 0:
        model.eval()
        with torch.no_grad():
            pred = model(graph.x, graph.edge_index).argmax(-1)
        print(f"test accuracy {float((pred[graph.test_mask] == graph.y[graph.test_mask]).float().mean()):.3f}")
    if distributed:
        dist.barrier()
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
