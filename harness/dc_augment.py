"""DC's evaluation augmentation (Zhao, Mopuri & Bilen, ICLR 2021, "Dataset Condensation with
Gradient Matching"), the recipe under which DC published the random, herding and k-center
baselines that later papers (DSA, DM, the energy-distance paper) copy into their tables.

Per image, one operation drawn uniformly from ``strategy`` (DC's ``augment``):

* ``crop``: pad ``crop`` pixels on each side with the batch's per-channel mean and take the
  window at a random integer offset: a shift by (dy, dx), each in {-crop, ..., crop - 1};
* ``scale``: resize to (h, w) = (int(u_h H), int(u_w W)), u ~ U(1 - scale, 1 + scale), nearest
  neighbour, centred on a zero canvas (zero is the mean in normalised space), centre crop to H x W;
* ``rotate``: an integer angle in {-rotate, ..., rotate - 1} degrees about the centre, filled with
  the batch's mean (DC rotates with scipy's cubic spline; here bilinear sampling);
* ``noise``: add ``noise`` * N(0, 1).

DC augments MNIST only (``crop_scale_rotate``; its ``get_daparam``): on any other dataset the
augmentation is off (:meth:`DCAugConfig.for_dataset` returns None). All operations are one
batched affine resampling, not a Python loop over images.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from harness.augment import parse_strategy

DC_OPERATIONS = ("crop", "scale", "rotate", "noise")
DC_AUGMENTED_DATASETS = ("mnist",)  # DC's get_daparam: crop_scale_rotate for MNIST, none otherwise


@dataclass(frozen=True)
class DCAugConfig:
    """DC's augmentation parameters (its defaults: crop 4 px, scale 0.2, rotate 45 degrees, noise 0.001)."""

    strategy: str = "crop_scale_rotate"
    crop: int = 4
    scale: float = 0.2
    rotate: int = 45
    noise: float = 0.001

    def operations(self) -> tuple[str, ...]:
        return parse_strategy(self.strategy, DC_OPERATIONS, "DC augmentation")

    def for_dataset(self, info) -> "DCAugConfig | None":
        """DC augments MNIST (and its subsets, ``mnist-*``) and nothing else."""
        family = info.name.split("-")[0]
        return self if family in DC_AUGMENTED_DATASETS else None

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return dc_augment(x, self, generator)


def _uniform(n: int, low: float, high: float, generator) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=generator)


def _randint(n: int, low: int, high: int, generator) -> torch.Tensor:
    """Integers in {low, ..., high - 1}, like numpy's randint."""
    return torch.randint(low, high, (n,), generator=generator).float()


def dc_augment(x: torch.Tensor, cfg: DCAugConfig, generator: torch.Generator | None = None) -> torch.Tensor:
    """Augment a normalised batch ``[N, C, H, W]``, one operation of ``cfg.strategy`` per image."""
    ops = cfg.operations()
    if not ops:
        return x
    n, _, h, w = x.shape
    choice = torch.randint(len(ops), (n,), generator=generator)
    is_op = {name: (choice == ops.index(name)) if name in ops else torch.zeros(n, dtype=torch.bool) for name in DC_OPERATIONS}

    # Inverse maps (output -> input) in affine_grid's normalised coordinates (align_corners=False).
    sy, sx = torch.ones(n), torch.ones(n)
    ty, tx = torch.zeros(n), torch.zeros(n)
    angle = torch.zeros(n)
    if is_op["crop"].any():
        dy, dx = _randint(n, -cfg.crop, cfg.crop, generator), _randint(n, -cfg.crop, cfg.crop, generator)
        ty, tx = torch.where(is_op["crop"], 2 * dy / h, ty), torch.where(is_op["crop"], 2 * dx / w, tx)
    if is_op["scale"].any():
        new_h = (_uniform(n, 1 - cfg.scale, 1 + cfg.scale, generator) * h).floor()
        new_w = (_uniform(n, 1 - cfg.scale, 1 + cfg.scale, generator) * h).floor()  # DC scales w by H too
        sy, sx = torch.where(is_op["scale"], h / new_h, sy), torch.where(is_op["scale"], w / new_w, sx)
    if is_op["rotate"].any():
        angle = torch.where(is_op["rotate"], torch.deg2rad(_randint(n, -cfg.rotate, cfg.rotate, generator)), angle)
    cos, sin = torch.cos(angle), torch.sin(angle)
    theta = torch.stack([torch.stack([sx * cos, -sx * sin, tx], 1),
                         torch.stack([sy * sin, sy * cos, ty], 1)], 1).to(device=x.device, dtype=x.dtype)

    on = {name: mask.to(x.device).view(n, 1, 1, 1) for name, mask in is_op.items()}
    channel_mean = x.detach().mean(dim=(0, 2, 3)).view(1, -1, 1, 1)
    fill = torch.where(on["crop"], channel_mean, torch.where(on["rotate"], channel_mean.mean(), 0.0))
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    nearest = F.grid_sample(x - fill, grid, mode="nearest", align_corners=False) + fill
    bilinear = F.grid_sample(x - fill, grid, mode="bilinear", align_corners=False) + fill
    out = torch.where(on["rotate"], bilinear, torch.where(on["crop"] | on["scale"], nearest, x))
    if is_op["noise"].any():
        out = out + on["noise"] * cfg.noise * torch.randn(x.shape, generator=generator).to(x.device, x.dtype)
    return out
