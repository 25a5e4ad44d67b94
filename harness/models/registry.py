"""The model registry (timm style: ``@register_model`` on a builder, ``build_model(name, ...)``)."""

from __future__ import annotations

import functools
from typing import Callable

import torch
import torch.nn as nn

from harness.errors import HarnessError
from harness.registry import Registry, UnknownNameError

ModelBuilder = Callable[[int, int, int], nn.Module]
MODELS: Registry[ModelBuilder] = Registry("architecture")


def register_model(name: str):
    """Register ``builder(in_channels, num_classes, image_size) -> nn.Module``."""
    return MODELS.register(name)


def build_model(name: str, in_channels: int, num_classes: int, image_size: int) -> nn.Module:
    try:
        builder = MODELS.get(name)
    except UnknownNameError as exc:
        raise HarnessError(str(exc)) from None
    return builder(in_channels, num_classes, image_size)


@functools.lru_cache(maxsize=None)
def gives_embedding(name: str) -> bool:
    """Whether ``name``'s network has ``embed(x)`` (its penultimate features), which the matching and
    selection distillers embed images with; built on the meta device (no weights are made)."""
    with torch.device("meta"):
        return callable(getattr(build_model(name, 1, 10, 32), "embed", None))


class EmbeddingModels:
    """The registered architectures that give an embedding, as a live view of :data:`MODELS` (a
    model registered later is included), for a setting's declared choices."""

    def __contains__(self, name) -> bool:
        return isinstance(name, str) and name in MODELS.names() and gives_embedding(name)

    def __iter__(self):
        return (name for name in MODELS.names() if gives_embedding(name))


EMBEDDING_MODELS = EmbeddingModels()
