"""The ``gnnx`` command: ``gnnx demo``, ``gnnx info``, ``gnnx serve``, ``gnnx bench``."""
from __future__ import annotations

import argparse
import os
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"demo": _demo, "info": _info, "serve": _serve, "bench": _bench}
    if not argv or argv[0] not in commands:
        print("usage: gnnx {demo,info,serve,bench} [options]\n"
              "  demo    train a GCN on Cora eagerly and compiled, export it, print a table\n"
              "  info    show versions and what a saved program or package expects\n"
              "  serve   serve an AOTInductor package with Triton on 127.0.0.1\n"
              "  bench   seed | cora: gnnx next to PyG on the user's path (needs torch_geometric)",
              file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


def _demo(argv: List[str]) -> int:
    from gnnx import demo

    return demo.main(argv)


def _bench(argv: List[str]) -> int:
    benchmarks = ("seed", "cora")
    if not argv or argv[0] not in benchmarks:
        print(f"usage: gnnx bench {{{','.join(benchmarks)}}} [options]  (--help for each)", file=sys.stderr)
        return 2
    import importlib

    importlib.import_module(f"gnnx.benchmark.{argv[0]}").main(argv[1:])
    return 0


def _archive_problem(path: str) -> Optional[str]:
    """Why ``path`` cannot be a saved program or package (both are zip archives), or ``None``."""
    import zipfile

    if not os.path.isfile(path):
        return "no such file"
    if not zipfile.is_zipfile(path):
        return "not a program or package saved by gnnx (not a zip archive)"
    return None


def _info(argv: List[str]) -> int:
    import json

    import torch

    import gnnx

    parser = argparse.ArgumentParser(prog="gnnx info")
    parser.add_argument("program", nargs="?", help="a program saved by gnnx.export.save")
    args = parser.parse_args(argv)
    print(f"gnnx {gnnx.__version__}, torch {torch.__version__}")
    if args.program:
        from gnnx.export import load, load_package

        problem = _archive_problem(args.program)
        if problem:
            print(f"gnnx info: {args.program}: {problem}", file=sys.stderr)
            return 2
        try:
            metadata = load_package(args.program).metadata
        except Exception:  # not an AOTInductor package: an exported program
            try:
                metadata = load(args.program).metadata
            except Exception as error:  # noqa: BLE001 (any reader failure: say which file and why)
                print(f"gnnx info: {args.program}: neither a gnnx package nor a saved program "
                      f"({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})", file=sys.stderr)
                return 2
        print(json.dumps(metadata, indent=2))
    return 0


def _serve(argv: List[str]) -> int:
    import signal
    import tempfile

    from gnnx.serve import TritonServer, write_repository

    parser = argparse.ArgumentParser(prog="gnnx serve", description="Serve a gnnx AOTInductor package with "
                                     "Triton Inference Server (Python backend) on 127.0.0.1.")
    parser.add_argument("package", help="a .pt2 written by gnnx.export.compile_package")
    parser.add_argument("--repository", help="where to write the model repository (default: a temp folder)")
    parser.add_argument("--name", default="gnnx_model")
    parser.add_argument("--http-port", type=int, default=8000)
    parser.add_argument("--grpc-port", type=int, default=8001)
    parser.add_argument("--threads", type=int, default=1, help="torch threads in the model instance")
    parser.add_argument("--cpp-runner", help="a built cpp/gnnx_run: run the package through the C++ loader in a "
                        "child process (for packages whose compiled code must stay out of the server's Python)")
    args = parser.parse_args(argv)
    from gnnx.export.package import package_metadata, python_loader_fails

    problem = _archive_problem(args.package)
    if problem:
        print(f"gnnx serve: {args.package}: {problem}", file=sys.stderr)
        return 2

    if args.cpp_runner is None and package_metadata(args.package).get("device") == "cuda":
        failure = python_loader_fails(args.package)
        if failure:
            print(f"gnnx serve: the Python loader cannot load this CUDA package here ({failure.splitlines()[0]}); "
                  "build cpp/ with CMake (README, C++) and pass --cpp-runner build/cpp/gnnx_run", file=sys.stderr)
            return 2
    root = args.repository or tempfile.mkdtemp(prefix="gnnx-repo-")
    write_repository(args.package, root, args.name, args.threads, cpp_runner=args.cpp_runner)
    print(f"model repository: {root}/python (also {root}/torch_aoti for Triton's libtorch backend)")
    server = TritonServer(os.path.join(root, "python"), args.http_port, args.grpc_port).wait_ready()
    print(f"serving '{args.name}': HTTP {server.http_url}, gRPC {server.grpc_url}; Ctrl-C stops")
    signal.signal(signal.SIGTERM, lambda *_: server.stop())
    try:
        server.process.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
