"""Multi-formation (NCFM sec. 5.1, after IDC): each stored image holds a rho x rho grid of cells,
decoded by bilinear upsampling into rho^2 full-size training images.

The storage budget stays IPC stored images per class; an artifact holds the decoded images
(``images_per_class`` = IPC * rho^2 in its manifest), which is what a model trains on. In the core
so that a set made elsewhere (:mod:`harness.importing`) is decoded as the harness decodes its own.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from harness.errors import HarnessError


def check_factor(factor: int, size: int, flag: str = "multi_formation") -> None:
    """Refuse a factor the decoder cannot apply to ``size``-pixel images: every grid cell must hold
    at least one pixel (a factor above the image size leaves empty cells)."""
    if not 1 <= factor <= size:
        raise HarnessError(f"{flag} {factor} cannot split a {size} x {size} image into {factor} x {factor} cells "
                           f"of at least one pixel: use a factor from 1 to {size} (NCFM's is 2)")


def _edges(size: int, factor: int) -> list[tuple[int, int]]:
    cuts = [round(i * size / factor) for i in range(factor + 1)]
    return list(zip(cuts[:-1], cuts[1:]))


def decode(stored: torch.Tensor, factor: int) -> torch.Tensor:
    """[N, C, H, W] -> [N * factor^2, C, H, W], each stored image's grid cells (row-major)
    bilinearly upsampled to full size, consecutively."""
    if factor == 1:
        return stored
    n, ch, h, w = stored.shape
    cells = [F.interpolate(stored[:, :, r0:r1, c0:c1], size=(h, w), mode="bilinear", align_corners=False)
             for r0, r1 in _edges(h, factor) for c0, c1 in _edges(w, factor)]
    return torch.stack(cells, 1).reshape(n * factor**2, ch, h, w)


def encode(images: torch.Tensor, factor: int) -> torch.Tensor:
    """Tile each run of factor^2 consecutive images, downsized, into one stored image (the
    multi-formation initialisation): [N * factor^2, C, H, W] -> [N, C, H, W]."""
    if factor == 1:
        return images
    n, (ch, h, w) = len(images) // factor**2, images.shape[1:]
    out = images.new_empty(n, ch, h, w)
    cells = images.view(n, factor**2, ch, h, w)
    for k, ((r0, r1), (c0, c1)) in enumerate((r, c) for r in _edges(h, factor) for c in _edges(w, factor)):
        out[:, :, r0:r1, c0:c1] = F.interpolate(cells[:, k], size=(r1 - r0, c1 - c0), mode="bilinear",
                                                align_corners=False, antialias=True)
    return out


def formation_meta(ipc: int, factor: int) -> dict:
    """Manifest entries that say how many decoded images a stored image stands for."""
    return {"multi_formation": factor, "images_per_class": ipc * factor**2,
            "images_note": f"decoded: {factor**2} full-size images per stored image; ipc counts "
                           f"stored images (the storage budget)"}


def decoded_set(stored: torch.Tensor, labels: torch.Tensor, factor: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(decoded images, their labels) of stored images and their labels: what the artifact holds."""
    return decode(stored, factor), labels.repeat_interleave(factor**2)
