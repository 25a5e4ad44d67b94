"""Where outputs go: one folder (default ``runs/``, or ``$DD_OUTPUT``), never inside the packages."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def output_root() -> Path:
    return Path(os.environ.get("DD_OUTPUT", "runs"))


def cache_dir(*parts: str, create: bool = True) -> Path:
    """A folder under ``<output>/cache`` (datasets, pretrained models, distilled sets), created
    unless ``create`` is False (e.g. to look whether something is cached, writing nothing)."""
    path = output_root().joinpath("cache", *parts)
    if create:
        path.mkdir(parents=True, exist_ok=True)
    return path


def data_root() -> Path:
    """Where torchvision-style datasets live (``$DD_DATA``, default ``data/``)."""
    return Path(os.environ.get("DD_DATA", "data"))


@contextmanager
def environment_variable(name: str, value: str) -> Iterator[None]:
    """``$name`` set to ``value`` for the block, the caller's value (or its absence) restored after."""
    saved = os.environ.get(name)
    os.environ[name] = value
    try:
        yield
    finally:
        if saved is None:
            del os.environ[name]
        else:
            os.environ[name] = saved
