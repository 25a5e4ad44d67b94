"""The model registry (timm style: ``@register_model`` on a builder, ``build_model(name, ...)``)."""

from __future__ import annotations

from typing import Callable

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
