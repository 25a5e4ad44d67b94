"""Benchmarks run by ``python -m harness.bench``: each module registers ``@register_benchmark``.

A benchmark is ``fn(args) -> list[dict]`` (rows printed as a table and appended to
``<output>/records/bench.jsonl``).
"""

from harness.plugins import import_all
from harness.registry import Registry

BENCHMARKS: Registry = Registry("benchmark")


def register_benchmark(name: str):
    return BENCHMARKS.register(name)


import_all(__name__, __path__)
