"""The ``gnnx`` command: ``gnnx demo``, ``gnnx export``, ``gnnx info``."""
from __future__ import annotations

import argparse
import sys
from typing import List, Optional


def main(argv: Optional[List[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"demo": _demo, "info": _info}
    if not argv or argv[0] not in commands:
        print("usage: gnnx {demo,info} [options]\n"
              "  demo   train a GCN on Cora eagerly and compiled, export it, print a table\n"
              "  info   show versions and what a saved program expects", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


def _demo(argv: List[str]) -> int:
    from gnnx import demo

    return demo.main(argv)


def _info(argv: List[str]) -> int:
    import json

    import torch

    import gnnx

    parser = argparse.ArgumentParser(prog="gnnx info")
    parser.add_argument("program", nargs="?", help="a program saved by gnnx.export.save")
    args = parser.parse_args(argv)
    print(f"gnnx {gnnx.__version__}, torch {torch.__version__}")
    if args.program:
        from gnnx.export import load

        print(json.dumps(load(args.program).metadata, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
