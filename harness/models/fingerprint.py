"""A model definition's fingerprint, stored with every result so that numbers from different
revisions of one architecture name (e.g. the ConvNet before and after its 28x28 padding fix) are
never pooled or mistaken for finished cells.

The fingerprint hashes what defines the network, not its weights: the module tree as PyTorch
prints it (every layer's type and settings, a convolution's padding included) and the name and
shape of every parameter and buffer. The model is built on the ``meta`` device, so fingerprinting
allocates no memory and draws no random numbers.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

import torch

from harness.models.registry import build_model


@lru_cache(maxsize=None)
def arch_fingerprint(arch: str, in_channels: int, num_classes: int, image_size: int) -> str:
    """sha256 (12 hex digits) of the structure of ``build_model(arch, ...)``."""
    with torch.device("meta"):
        model = build_model(arch, in_channels, num_classes, image_size)
    shapes = "".join(f"{name}{tuple(t.shape)};" for name, t in model.state_dict().items())
    return hashlib.sha256((repr(model) + shapes).encode()).hexdigest()[:12]


def arch_cell(arch: str, info) -> dict:
    """The result-cell fields naming an architecture on a dataset: its name and fingerprint."""
    return {"arch": arch, "arch_fingerprint": arch_fingerprint(arch, info.channels, info.num_classes, info.size)}
