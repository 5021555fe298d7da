"""Leaving Python: exported programs with named dynamic sizes, saved with metadata.

A model's forward takes plain tensors (``x``, ``edge_index``, and optionally
``edge_weight``, ``edge_attr``, ``batch``...). :func:`export` gives every input a
dynamic dimension named by what it counts, ``num_nodes`` or ``num_edges``, so one
program serves graphs of any size; :func:`save` writes it with a JSON metadata record;
:func:`load` runs it without the model's Python class; :func:`compile_package` turns it
into an AOTInductor ``.pt2`` package that C++ (``cpp/``) and the Triton server load, and
:func:`load_package` runs that from Python (:func:`load_package_cpp` through the C++ loader,
in a child process, where torch's Python loader cannot load a package).
"""
from gnnx.export.checks import InputError
from gnnx.export.cpp_package import CppPackagedModel, load_package_cpp
from gnnx.export.package import PackagedModel, compile_package, foreign_ops, load_package, package_metadata
from gnnx.export.program import DIM_OF_INPUT, CheckedModel, ExportedModel, export, load, metadata_of, save
from gnnx.export.torchscript import to_torchscript

__all__ = [
    "DIM_OF_INPUT", "CheckedModel", "CppPackagedModel", "ExportedModel", "InputError", "PackagedModel",
    "compile_package", "export", "foreign_ops", "load", "load_package", "load_package_cpp", "metadata_of", "package_metadata", "save",
    "to_torchscript",
]
