"""Pieces of NCFM (:mod:`distillers.ncfm`): psi's samplers (sec. 4.2.2) and the parts of the NCFM
authors' configuration that are settings of their own (``init='authors'``, ``real_sample='first'``,
``pixel_space``, ``image_optimizer='authors'``; gszfwsb/NCFM, files named where each is used)."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

from distillers._formation import _edges
from distillers._ncfm_settings import AUTHORS_IMAGE_OPTIMIZER
from harness.data import ImageData
from harness.errors import HarnessError

FREQS_PER_ROW = 16  # frequencies per mixture component / MLP row (paper sec. 5.1; authors' code)


class MixtureSampler(nn.Module):
    """Scale mixture of zero-mean Gaussians (sec. 4.2.2); ``noise`` [K, D] ~ N(0, I) -> t [K, D].

    Scales s = exp(log lo + (log hi - log lo) * sigmoid(raw)) in ``bounds`` = (lo, hi), starting at 1.

    The bound (``psi_scale_bounds``): features are L2-normalised, so for a mixture
    scale s every projection <t, x> of a feature is N(0, s^2) and that of a difference x - y is
    N(0, s^2 |x - y|^2), |x - y| <= 2 (about 0.5-0.7 between unit-norm ConvNet features of one
    class). With s <= 2 a typical pair's phase difference has a standard deviation of at most about
    1.4 rad, so the empirical CF is a smooth functional of the distribution; for s >> 2 the phases of any two
    samples wrap independently and every empirical CF decays to its 1/sqrt(n) sampling noise, which
    the maximisation could inflate without finding a more informative frequency (same-distribution
    NCFD 0.049 at s = 1, about 0.10 at s >= 3). Below s = 1/2 the phases span under +-1 rad and the CF
    is near its second-order (mean/covariance) expansion. So s = exp(log 1/2 + log 4 * sigmoid(raw))
    lies in [1/2, 2], starting at 1. The authors' MLP form is bounded by its Tanh (|t_d| <= 1)."""

    def __init__(self, num_freqs: int, dim: int, bounds: tuple = (0.5, 2.0)):
        super().__init__()
        lo, hi = bounds
        if not 0 < lo <= 1 <= hi or lo == hi:
            raise HarnessError(f"psi_scale_bounds must satisfy 0 < lo <= 1 <= hi, lo < hi; got {bounds}")
        self.log_lo, self.log_span = math.log(lo), math.log(hi) - math.log(lo)
        p = min(max(-self.log_lo / self.log_span, 1e-6), 1 - 1e-6)
        self.raw = nn.Parameter(torch.full((num_freqs // FREQS_PER_ROW, dim), math.log(p / (1 - p))))

    def scales(self) -> torch.Tensor:
        return (self.log_lo + self.log_span * torch.sigmoid(self.raw)).exp()

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.scales().repeat_interleave(FREQS_PER_ROW, 0) * noise


class MLPSampler(nn.Module):
    """The authors' sampling network; uses the first K / 16 rows of ``noise``."""

    def __init__(self, num_freqs: int, dim: int):
        super().__init__()
        self.rows = num_freqs // FREQS_PER_ROW
        layers: list[nn.Module] = []
        for act in (nn.LeakyReLU(0.2), nn.LeakyReLU(0.2), nn.Tanh()):
            layers += [nn.Linear(dim, dim), nn.BatchNorm1d(dim), act]
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise[: self.rows]).repeat_interleave(FREQS_PER_ROW, 0)


SAMPLERS = {"mixture": MixtureSampler, "mlp": MLPSampler}


def mixture_meta(psi: MixtureSampler, bounds: tuple) -> dict:
    """The manifest entry of a mixture psi: its bounds, the quantiles of the learnt scales, the
    share at either bound (within 1%) and each component's mean scale."""
    with torch.no_grad():
        s = psi.scales().detach().float().cpu()
    lo, hi = bounds
    q = torch.quantile(s.flatten(), torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]))
    return {"form": "mixture", "scale_bounds": [lo, hi],
            "scale_quantiles": dict(zip(["min", "q10", "median", "q90", "max"], q.tolist())),
            "share_at_upper_bound": (s >= hi * 0.99).float().mean().item(),
            "share_at_lower_bound": (s <= lo * 1.01).float().mean().item(),
            "component_mean_scale": s.mean(1).tolist()}


def _stats(data: ImageData, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    view = (1, -1, 1, 1)
    return (torch.tensor(data.info.mean, dtype=like.dtype, device=like.device).view(view),
            torch.tensor(data.info.std, dtype=like.dtype, device=like.device).view(view))


def to_pixels(x: torch.Tensor, data: ImageData) -> torch.Tensor:
    """Normalised images -> pixel values (x * std + mean; not clamped)."""
    mean, std = _stats(data, x)
    return x * std + mean


def from_pixels(x: torch.Tensor, data: ImageData) -> torch.Tensor:
    """Pixel values -> the normalised space the networks and DSA see ((x - mean) / std)."""
    mean, std = _stats(data, x)
    return (x - mean) / std


def first_real(by_class: list[torch.Tensor], classes: list[int], batch: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``real_sample='first'``: the first ``batch`` images of each class in dataset order, the same
    every iteration (the authors' real loader asks ``class_sample(c, batch_real)``, which returns
    ``cls_idx[c][:batch_real]``: data/dataloader.py ClassMemDataLoader, condenser/Condenser.py)."""
    index = [by_class[c][:batch] for c in classes]
    group = [torch.full((len(i),), pos, dtype=torch.long) for pos, i in enumerate(index)]
    return torch.cat(index), torch.cat(group)


def authors_init(data: ImageData, ipc: int, factor: int, device, classes: list[int]):
    """``init='authors'`` (condenser/Condenser.py load_condensed_data, init 'mix', the condense
    script's default): each class's first ipc * factor^2 images in dataset order; cell k (row-major)
    of stored image i holds image k * ipc + i, downsized by nearest-neighbour interpolation.
    Returns (stored images, normalised, [len(classes) * ipc, C, H, W]; labels). A class with fewer
    images repeats them in order (the authors' code has no rule for it)."""
    by_class = data.indices_by_class()
    n, cells = ipc, factor**2
    stored, labels = [], []
    h, w = data.info.size, data.info.size
    for c in classes:
        idx = by_class[c]
        x = data.normalised(idx[torch.arange(n * cells) % len(idx)], device)
        out = x.new_empty(n, x.shape[1], h, w)
        for k, ((r0, r1), (c0, c1)) in enumerate((r, q) for r in _edges(h, factor) for q in _edges(w, factor)):
            out[:, :, r0:r1, c0:c1] = F.interpolate(x[k * n:(k + 1) * n], size=(r1 - r0, c1 - c0), mode="nearest")
        stored.append(out)
        labels.append(torch.full((n,), c, dtype=torch.long))
    return torch.cat(stored), torch.cat(labels).to(device)


def image_optimizer_choice(cfg, dataset: str, ipc: int) -> tuple[str, float, float, float]:
    """(optimizer, lr, momentum, weight decay) of the images: AdamW(lr_images, weight_decay), or under
    ``image_optimizer='authors'`` the authors' choice for (dataset, IPC) where it differs
    (``AUTHORS_IMAGE_OPTIMIZER``: SGD on CIFAR-100 at IPC 10)."""
    default = ("adamw", cfg.lr_images, 0.0, cfg.weight_decay)
    return AUTHORS_IMAGE_OPTIMIZER.get((dataset, ipc), default) if cfg.image_optimizer == "authors" else default


def image_optimizer(cfg, images: torch.Tensor, dataset: str, ipc: int) -> torch.optim.Optimizer:
    name, lr, momentum, decay = image_optimizer_choice(cfg, dataset, ipc)
    if name == "sgd":
        return torch.optim.SGD([images], lr=lr, momentum=momentum, weight_decay=decay)
    return torch.optim.AdamW([images], lr=lr, weight_decay=decay)


def image_optimizer_meta(cfg, dataset: str, ipc: int) -> dict:
    """The manifest entry: the optimiser the images were trained with."""
    name, lr, momentum, decay = image_optimizer_choice(cfg, dataset, ipc)
    return {"name": name, "lr": lr, "weight_decay": decay, **({"momentum": momentum} if name == "sgd" else {})}
