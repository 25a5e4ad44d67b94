"""Multi-formation for distillers: the initial stored images tiled from real ones. Decoding and
encoding live in the core (:mod:`harness.formation`), so imported sets decode the same way; they
are re-exported here for the distillers that use them."""

from __future__ import annotations

import torch

from distillers._matching import init_from_real
from harness.data import ImageData
from harness.formation import _edges, decode, decoded_set, encode, formation_meta  # noqa: F401 (re-exported)


def init_stored(data: ImageData, ipc: int, factor: int, seed: int, device, classes) -> tuple[torch.Tensor, torch.Tensor]:
    """Stored images [len(classes) * ipc, C, H, W] tiled from ipc * factor^2 real images per class,
    and their labels."""
    real, labels = init_from_real(data, ipc * factor**2, seed, device, classes)
    return encode(real, factor), labels[:: factor**2]
