"""End to end: train EdgeCNN on synthetic point clouds, export, AOT-compile, run from C++,
serve with Triton and query it.

Task: each cloud holds points from a sphere and from a cube that overlap; label each point
with the shape it came from (per-point segmentation). Graph: k nearest neighbours, built
once per cloud outside the model (plain torch). Steps:

1. train ``gnnx.nn.EdgeCNN`` (eager), report held-out accuracy;
2. ``gnnx.export.compile_package`` -> ``pointcloud.pt2`` (portable CPU, input checks);
3. if ``build/cpp/gnnx_run`` exists (``cmake -S cpp -B build/cpp ... && cmake --build build/cpp``),
   run it on one cloud and compare with Python;
4. unless ``--no-serve``: start Triton on 127.0.0.1, send three clouds in one request
   (HTTP) and one by gRPC, compare.

Run: ``.venv/bin/python examples/pointcloud_edgecnn.py [--epochs 30] [--out-dir out]``.
"""
import argparse
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch
import torch.nn.functional as F

import gnnx.export
from gnnx.nn import EdgeCNN


def knn_edges(pos: torch.Tensor, k: int) -> torch.Tensor:
    """Edges j -> i from each point's k nearest neighbours (brute force, self excluded)."""
    dist = torch.cdist(pos, pos)
    dist.fill_diagonal_(float("inf"))
    neighbours = dist.topk(k, largest=False).indices  # [N, k]
    dst = torch.arange(pos.size(0)).repeat_interleave(k)
    return torch.stack([neighbours.reshape(-1), dst])


def make_cloud(gen: torch.Generator, points: int = 256, k: int = 8):
    half = points // 2
    sphere = F.normalize(torch.randn(half, 3, generator=gen), dim=1) * 0.8
    cube = torch.rand(points - half, 3, generator=gen) * 1.4 - 0.7
    face = torch.randint(3, (points - half,), generator=gen)
    cube[torch.arange(points - half), face] = torch.where(torch.rand(points - half, generator=gen) < 0.5, -0.7, 0.7)
    shift = torch.randn(3, generator=gen) * 0.2
    pos = torch.cat([sphere, cube + shift]) + 0.02 * torch.randn(points, 3, generator=gen)
    label = torch.cat([torch.zeros(half, dtype=torch.long), torch.ones(points - half, dtype=torch.long)])
    return pos, knn_edges(pos, k), label


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=30)
    parser.add_argument("--clouds", type=int, default=64)
    parser.add_argument("--out-dir", default=None)
    parser.add_argument("--no-serve", action="store_true")
    parser.add_argument("--min-accuracy", type=float, default=0.8, help="exit 1 below this held-out accuracy")
    args = parser.parse_args(argv)
    out_dir = args.out_dir or tempfile.mkdtemp(prefix="gnnx-pointcloud-")
    os.makedirs(out_dir, exist_ok=True)

    gen = torch.Generator().manual_seed(0)
    train = [make_cloud(gen) for _ in range(args.clouds)]
    test = [make_cloud(gen) for _ in range(16)]
    torch.manual_seed(0)
    model = EdgeCNN(3, 32, num_layers=3, out_channels=2, norm="batch_norm")
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    for epoch in range(args.epochs):
        model.train()
        total = 0.0
        for pos, edge_index, label in train:
            optimizer.zero_grad()
            loss = F.cross_entropy(model(pos, edge_index), label)
            loss.backward()
            optimizer.step()
            total += loss.item()
        if epoch % 10 == 0 or epoch == args.epochs - 1:
            print(f"epoch {epoch:3d}  loss {total / len(train):.4f}", flush=True)
    model.eval()
    with torch.no_grad():
        correct = sum(int((model(p, e).argmax(-1) == y).sum()) for p, e, y in test)
    accuracy = correct / sum(len(y) for _, _, y in test)
    print(f"held-out per-point accuracy: {accuracy:.3f}")

    pos, edge_index, _ = test[0]
    package = gnnx.export.compile_package(model, os.path.join(out_dir, "pointcloud.pt2"), (pos, edge_index))
    with torch.no_grad():
        expected = model(pos, edge_index)
    print(f"package: {package}, max |diff| vs eager "
          f"{float((gnnx.export.load_package(package)(pos, edge_index) - expected).abs().max()):.2e}")

    runner = os.path.join(os.path.dirname(__file__), "..", "build", "cpp", "gnnx_run")
    if os.path.exists(runner):
        np.save(os.path.join(out_dir, "pos.npy"), pos.numpy())
        np.save(os.path.join(out_dir, "edge_index.npy"), edge_index.numpy())
        out_npy = os.path.join(out_dir, "out.npy")
        subprocess.run([runner, package, out_npy, os.path.join(out_dir, "pos.npy"),
                        os.path.join(out_dir, "edge_index.npy")], check=True)
        print(f"C++ runner: max |diff| vs eager {float(np.abs(np.load(out_npy) - expected.numpy()).max()):.2e}")
    else:
        print("C++ runner not built (see cpp/CMakeLists.txt); skipped")

    if not args.no_serve:
        from gnnx.serve import Client, TritonServer, write_repository

        write_repository(package, os.path.join(out_dir, "repository"))
        with TritonServer(os.path.join(out_dir, "repository", "python")) as server:
            outs = Client(server.http_url).infer_graphs([(p, e) for p, e, _ in test[:3]])
            single = Client(server.grpc_url, protocol="grpc").infer(pos, edge_index)
            with torch.no_grad():
                diff = max(float((o - model(p, e)).abs().max()) for o, (p, e, _) in zip(outs, test[:3]))
            print(f"Triton: 3 clouds in one HTTP request, max |diff| {diff:.2e}; gRPC single "
                  f"{float((single - expected).abs().max()):.2e}")
    return 0 if accuracy >= args.min_accuracy else 1


if __name__ == "__main__":
    sys.exit(main())
