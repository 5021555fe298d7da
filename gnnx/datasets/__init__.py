"""Readers for datasets on disk, safe against malicious files."""
from gnnx.datasets.planetoid import Planetoid

__all__ = ["Planetoid"]
