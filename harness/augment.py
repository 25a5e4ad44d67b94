"""Differentiable siamese augmentation (DSA; Zhao & Bilen, ICML 2021).

Six families act on normalised image batches and pass gradients to the images:
colour (brightness, saturation, contrast), crop (translation), cutout, flip, scale, rotate.
Every random draw is a uniform number per image, so the same draw can be shared:

* ``augment(x, cfg, generator)`` gives every image its own draw (evaluation training);
* ``augment(x, cfg, generator, groups=g)`` shares one draw per group id, e.g. the real and the
  synthetic images of one class (siamese use inside distillation);
* :func:`keyed_uniforms` derives each group's draw from (seed, iteration, class) alone, so
  batching classes together or splitting them across processes gives the same augmentation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

FAMILIES = ("color", "crop", "cutout", "flip", "scale", "rotate")
DRAWS_PER_FAMILY = 3  # uniforms each family may use per image


@dataclass(frozen=True)
class DSAConfig:
    """DSA settings (defaults from the DSA/DM papers). ``single_family``: one family per call.
    ``crop_whole_pixels``: crop shifts by a whole number of pixels, up to int(side * crop + 0.5)
    each way with zero fill, as the NCFM authors' DiffAug ``crop_fn``; otherwise DSA's continuous
    translation of up to crop * (side - 1) pixels, resampled bilinearly."""

    strategy: str = "color_crop_cutout_flip_scale_rotate"
    single_family: bool = True
    brightness: float = 1.0
    saturation: float = 2.0
    contrast: float = 0.5
    crop: float = 0.125
    crop_whole_pixels: bool = False
    cutout: float = 0.5
    scale: float = 1.2
    rotate_degrees: float = 15.0

    def for_dataset(self, info) -> "DSAConfig":
        """The strategy for a dataset: without ``flip`` where a mirrored image changes its label
        (``info.mirror_invariant`` False: digits), as the DSA/DM authors run MNIST and SVHN."""
        if info.mirror_invariant or "flip" not in self.families():
            return self
        return replace(self, strategy="_".join(f for f in self.families() if f != "flip"))

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Per-image draws (evaluation training); the protocol's augmentation interface."""
        return augment(x, self, generator=generator)

    def families(self) -> tuple[str, ...]:
        return parse_strategy(self.strategy, FAMILIES, "DSA family")


def parse_strategy(strategy: str, known: tuple[str, ...], kind: str) -> tuple[str, ...]:
    """``"crop_scale"`` -> ``("crop", "scale")``, refusing names not in ``known``."""
    names = tuple(strategy.split("_")) if strategy else ()
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"unknown {kind} {unknown}: use some of {'_'.join(known)}")
    return names


def mix_seed(*parts: int) -> int:
    """A 63-bit seed from integers (e.g. seed, iteration, class), stable across runs and processes."""
    h = 1469598103934665603
    for p in parts:
        h = ((h ^ (int(p) & 0xFFFFFFFFFFFFFFFF)) * 1099511628211) & 0x7FFFFFFFFFFFFFFF
    return h


def keyed_uniforms(seed: int, iteration: int, keys: list[int] | torch.Tensor, device="cpu") -> torch.Tensor:
    """Uniform draws ``[len(keys), families, 3]``, each row from (seed, iteration, key) alone."""
    rows = [
        torch.rand(len(FAMILIES), DRAWS_PER_FAMILY, generator=torch.Generator().manual_seed(mix_seed(seed, iteration, k)))
        for k in (keys.tolist() if torch.is_tensor(keys) else keys)
    ]
    return torch.stack(rows).to(device)


def _affine(x: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    grid = F.affine_grid(theta, list(x.shape), align_corners=True)
    return F.grid_sample(x, grid, align_corners=True)


def _color(x, u, cfg):
    x = x + (u[:, 0] - 0.5).view(-1, 1, 1, 1) * cfg.brightness
    mean = x.mean(dim=1, keepdim=True)
    x = (x - mean) * (u[:, 1] * cfg.saturation).view(-1, 1, 1, 1) + mean
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    return (x - mean) * (u[:, 2] + cfg.contrast).view(-1, 1, 1, 1) + mean


def _crop(x, u, cfg):
    if cfg.crop_whole_pixels:  # k in {-s..s} pixels, uniform; k pixels are 2k / (side - 1) grid units
        sides = torch.tensor([x.shape[3], x.shape[2]], device=x.device, dtype=x.dtype)
        most = torch.floor(sides * cfg.crop + 0.5)
        pixels = torch.minimum(torch.floor(u[:, :2] * (2 * most + 1)), 2 * most) - most
        shift = pixels * 2 / (sides - 1)
    else:
        shift = (u[:, :2] * 2 - 1) * 2 * cfg.crop  # +-crop of the side, in [-1, 1] grid units
    eye = torch.eye(2, device=x.device, dtype=x.dtype).expand(len(x), 2, 2)
    return _affine(x, torch.cat([eye, shift.unsqueeze(2)], dim=2))


def _cutout(x, u, cfg):
    n, _, h, w = x.shape
    half_h, half_w = int(h * cfg.cutout + 0.5) / 2, int(w * cfg.cutout + 0.5) / 2
    cy, cx = u[:, 0] * h, u[:, 1] * w
    rows = torch.arange(h, device=x.device).view(1, h, 1)
    cols = torch.arange(w, device=x.device).view(1, 1, w)
    inside = ((rows - cy.view(n, 1, 1)).abs() < half_h) & ((cols - cx.view(n, 1, 1)).abs() < half_w)
    return x * (~inside).unsqueeze(1).to(x.dtype)


def _flip(x, u, cfg):
    return torch.where((u[:, 0] < 0.5).view(-1, 1, 1, 1), x.flip(3), x)


def _scale(x, u, cfg):
    s = 1 / cfg.scale + u[:, :2] * (cfg.scale - 1 / cfg.scale)
    zero = torch.zeros_like(s[:, 0])
    theta = torch.stack([torch.stack([s[:, 0], zero, zero], 1), torch.stack([zero, s[:, 1], zero], 1)], 1)
    return _affine(x, theta)


def _rotate(x, u, cfg):
    angle = (u[:, 0] * 2 - 1) * math.radians(cfg.rotate_degrees)
    cos, sin, zero = torch.cos(angle), torch.sin(angle), torch.zeros_like(angle)
    theta = torch.stack([torch.stack([cos, sin, zero], 1), torch.stack([-sin, cos, zero], 1)], 1)
    return _affine(x, theta)


_APPLY = {"color": _color, "crop": _crop, "cutout": _cutout, "flip": _flip, "scale": _scale, "rotate": _rotate}


def augment(
    x: torch.Tensor,
    cfg: DSAConfig,
    generator: torch.Generator | None = None,
    groups: torch.Tensor | None = None,
    uniforms: torch.Tensor | None = None,
    family_draw: float | None = None,
) -> torch.Tensor:
    """Augment a normalised batch ``[N, C, H, W]``.

    ``uniforms`` ``[G, families, 3]`` (from :func:`keyed_uniforms`) with ``groups`` ``[N]`` in
    0..G-1 shares one draw per group; otherwise each image (or each group) draws from
    ``generator``. ``family_draw`` in [0, 1) picks the family when ``cfg.single_family``: one
    number for the whole batch, or a tensor ``[G]`` for one family per group (DSA's per-class
    call: the DSA/DM authors augment each class's real and synthetic batch with its own draw).
    """
    families = cfg.families()
    if not families:
        return x
    if uniforms is None:
        count = len(x) if groups is None else int(groups.max()) + 1
        uniforms = torch.rand(count, len(FAMILIES), DRAWS_PER_FAMILY, generator=generator).to(x.device)
    u = uniforms if groups is None else uniforms[groups.to(uniforms.device)]
    u = u.to(device=x.device, dtype=x.dtype)
    if cfg.single_family:
        if family_draw is None:
            family_draw = torch.rand(1, generator=generator).item()
        if torch.is_tensor(family_draw):  # one family per group
            pick = (family_draw.to(x.device)[groups.to(x.device)] * len(families)).long().clamp(max=len(families) - 1)
            out = x.clone()
            for k, name in enumerate(families):
                rows = (pick == k).nonzero().squeeze(1)
                if len(rows):
                    out[rows] = _APPLY[name](x[rows], u[rows, FAMILIES.index(name)], cfg)
            return out
        families = (families[int(family_draw * len(families))],)
    for name in families:
        x = _APPLY[name](x, u[:, FAMILIES.index(name)], cfg)
    return x


@dataclass(frozen=True)
class AugmentChain:
    """Augmentations applied one after the other, each with its own per-image draws (e.g. the
    NCFM authors' evaluation DiffAug: flip and colour on every image, then one of crop/scale/rotate)."""

    parts: tuple = ()

    def for_dataset(self, info) -> "AugmentChain":
        return AugmentChain(tuple(p.for_dataset(info) for p in self.parts))

    def apply(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        for part in self.parts:
            x = part.apply(x, generator)
        return x


def cutmix(x: torch.Tensor, beta: float, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor, float]:
    """CutMix (Yun et al. 2019): a box of area ~ (1 - lam), lam ~ Beta(beta, beta), pasted from a
    permuted batch, all drawn from ``generator``. Returns (mixed images, the permutation, the kept
    share of the area ``ratio``): the loss is ratio * CE(y) + (1 - ratio) * CE(y[perm])."""
    n, _, h, w = x.shape
    rng = np.random.default_rng(int(torch.randint(2**62, (1,), generator=generator)))
    lam = float(rng.beta(beta, beta))
    perm = torch.randperm(n, generator=generator).to(x.device)
    cut = math.sqrt(1.0 - lam)
    ch, cw = int(h * cut), int(w * cut)
    cy, cx = int(rng.integers(h)), int(rng.integers(w))
    y0, y1 = max(cy - ch // 2, 0), min(cy + ch // 2, h)
    x0, x1 = max(cx - cw // 2, 0), min(cx + cw // 2, w)
    x = x.clone()
    x[:, :, y0:y1, x0:x1] = x[perm, :, y0:y1, x0:x1]
    return x, perm, 1.0 - (y1 - y0) * (x1 - x0) / (h * w)
