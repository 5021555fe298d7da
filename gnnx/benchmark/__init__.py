"""Benchmarks that ship with gnnx (``gnnx bench ...``): the user's path next to PyG, same process.

:mod:`~gnnx.benchmark.harness` times, isolates and writes results;
:mod:`~gnnx.benchmark.seed` is the seed-graph table; :mod:`~gnnx.benchmark.cora` a Cora
training loop.
"""
