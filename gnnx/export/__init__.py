"""Leaving Python: exported programs with named dynamic sizes, saved with metadata.

A model's forward takes plain tensors (``x``, ``edge_index``, and optionally
``edge_weight``, ``edge_attr``, ``batch``...). :func:`export` gives every input a
dynamic dimension named by what it counts, ``num_nodes`` or ``num_edges``, so one
program serves graphs of any size; :func:`save` writes it with a JSON metadata record;
:func:`load` runs it without the model's Python class.
"""
from gnnx.export.program import DIM_OF_INPUT, ExportedModel, export, load, metadata_of, save

__all__ = ["DIM_OF_INPUT", "ExportedModel", "export", "load", "metadata_of", "save"]
