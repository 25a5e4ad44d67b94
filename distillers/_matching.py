"""Pieces shared by distribution-matching distillers, batched over classes.

Every random draw comes from (seed, iteration, class) alone (``mix_seed``), so batching classes
together or splitting them across processes gives the same result.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from harness.augment import DSAConfig, augment, keyed_uniforms, mix_seed
from harness.data import ImageData
from harness.models import build_model

# Real images per no-grad forward pass, chosen for the cache: a ConvNet forward of 2,560 CIFAR-shaped
# images on a 2-core AVX2 CPU took 10.4 s in chunks of 2048 against 3.6-3.8 s in chunks of 512
# (3.1 s channels_last); larger chunks only stream activations through memory.
REAL_CHUNK = 512
FAMILY_KEY = -9  # the mix_seed slot of a class's DSA family draw
# the mix_seed slot of a class's real batch: its own stream, apart from the DSA draws that
# keyed_uniforms makes from (seed, iteration, class) (the two once shared their generator seed)
REAL_KEY = -10
# Decoded synthetic images per class block (forward and backward with gradients): bounds the
# activations kept for backward. NCFM at the authors' settings, IPC 10, 256 real per class: peak RSS
# 1.65-1.78 GB with 256 against 2.17-2.30 GB with 512, at no measurable cost in time.
SYN_BLOCK_IMAGES = 256


def embed(net: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``net.embed(x)`` in channels_last, the layout the convolutions run fastest in on CPU and GPU."""
    return net.embed(x.contiguous(memory_format=torch.channels_last))


def class_blocks(n_classes: int, images_per_class: int, block: int = 0) -> list[tuple[int, int]]:
    """(lo, hi) class ranges: ``block`` classes each, or (``block`` 0) as many as fit in
    ``SYN_BLOCK_IMAGES`` decoded images (at least one class)."""
    size = block or max(1, SYN_BLOCK_IMAGES // images_per_class)
    return [(lo, min(lo + size, n_classes)) for lo in range(0, n_classes, size)]


def _class_pick(idx: torch.Tensor, ipc: int, seed: int, c: int) -> tuple[torch.Tensor, torch.Generator]:
    """``ipc`` of a class's indices ``idx`` (repeated when the class is short) and the generator
    that drew them, keyed by (seed, class)."""
    gen = torch.Generator().manual_seed(mix_seed(seed, -1, c))
    reps = -(-ipc // len(idx))
    return torch.cat([idx[torch.randperm(len(idx), generator=gen)] for _ in range(reps)])[:ipc], gen


def init_picks(data: ImageData, ipc: int, seed: int, classes: list[int]) -> list[torch.Tensor]:
    """For each class, the ``ipc`` real image indices ``init_from_real`` starts from, e.g. to read
    the per-image attributes of the initial images."""
    by_class = data.indices_by_class()
    return [_class_pick(by_class[c], ipc, seed, c)[0] for c in classes]


def init_from_real(data: ImageData, ipc: int, seed: int, device, classes: list[int] | None = None):
    """``ipc`` random real images per class (normalised) and their labels.

    A class with fewer images than ``ipc`` (long-tailed data) repeats its images, each repeat
    with a fresh DSA augmentation so the copies differ.
    """
    classes = list(range(data.info.num_classes)) if classes is None else classes
    by_class = data.indices_by_class()
    images, labels = [], []
    for c in classes:
        pick, gen = _class_pick(by_class[c], ipc, seed, c)
        x = data.normalised(pick, device)
        if len(by_class[c]) < ipc:
            fresh = torch.arange(ipc) >= len(by_class[c])
            x[fresh] = augment(x[fresh], DSAConfig().for_dataset(data.info), generator=gen)
        images.append(x)
        labels.append(torch.full((ipc,), c, dtype=torch.long))
    return torch.cat(images), torch.cat(labels).to(device)


def sample_real(data: ImageData, by_class: list[torch.Tensor], classes: list[int], batch: int, seed: int,
                iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Indices of up to ``batch`` random real images per class, and their class positions 0..len-1,
    each class's drawn from (seed, iteration, class, ``REAL_KEY``)."""
    index, group = [], []
    for pos, c in enumerate(classes):
        idx = by_class[c]
        gen = torch.Generator().manual_seed(mix_seed(seed, iteration, c, REAL_KEY))
        take = idx[torch.randperm(len(idx), generator=gen)[:batch]]
        index.append(take)
        group.append(torch.full((len(take),), pos, dtype=torch.long))
    return torch.cat(index), torch.cat(group)


def siamese_dsa(info, enabled: bool) -> DSAConfig | None:
    """The DSA a matching distiller applies (paper's strategy, no flip on digits), or None if off."""
    return DSAConfig().for_dataset(info) if enabled else None


def class_augment(x: torch.Tensor, group: torch.Tensor, cfg: DSAConfig | None, seed: int, iteration: int,
                  classes: list[int]) -> torch.Tensor:
    """DSA whose draw depends on (seed, iteration, class) alone: one family and its parameters per
    class and iteration, as the DSA/DM authors call it once per class.

    ``group`` gives each image's position in ``classes``. Calling it on a class's real batch and
    on its synthetic images applies the same transformation to both: the siamese augmentation.
    """
    if cfg is None:
        return x
    u = keyed_uniforms(seed, iteration, classes, x.device)
    family = torch.tensor([torch.rand(1, generator=torch.Generator().manual_seed(mix_seed(seed, iteration, c, FAMILY_KEY)))
                           .item() for c in classes])
    return augment(x, cfg, groups=group, uniforms=u, family_draw=family)


def random_network(arch: str, data: ImageData, seed: int, iteration: int, device) -> nn.Module:
    """A fresh randomly initialised, frozen network for this iteration (as in DM)."""
    torch.manual_seed(mix_seed(seed, iteration, -2))
    net = build_model(arch, data.info.channels, data.info.num_classes, data.info.size)
    return net.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)


@torch.no_grad()
def embed_real(net: nn.Module, data: ImageData, index: torch.Tensor, group: torch.Tensor, augment_fn,
               device) -> torch.Tensor:
    """Embeddings of real images under no-grad, in chunks of REAL_CHUNK images.

    ``augment_fn(x, group)`` applies the (siamese) augmentation to a chunk.
    """
    out = []
    for chunk, g in zip(index.split(REAL_CHUNK), group.split(REAL_CHUNK)):
        out.append(embed(net, augment_fn(data.normalised(chunk, device), g.to(device))))
    return torch.cat(out)


def class_means(features: torch.Tensor, group: torch.Tensor, num_groups: int) -> torch.Tensor:
    """Per-group mean of ``features`` ``[N, D]`` -> ``[G, D]`` (one index_add, no loop)."""
    sums = torch.zeros(num_groups, features.shape[1], device=features.device, dtype=features.dtype)
    sums.index_add_(0, group, features)
    counts = torch.bincount(group, minlength=num_groups).clamp(min=1).to(features.dtype)
    return sums / counts.unsqueeze(1)


def pad_by_group(features: torch.Tensor, group: torch.Tensor, num_groups: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows ``[N, D]`` grouped by ``group`` (in any order; a group's rows keep theirs) ->
    (``[G, n_max, D]`` zero-padded, ``[G, n_max]`` weights 1/n_g on a group's rows and 0 on padding).

    Lets per-class measures run as one batched call when classes have different sample sizes
    (long-tailed data): pass the weights as the measure's ``x_weights``.
    """
    counts = torch.bincount(group, minlength=num_groups)
    order = torch.argsort(group, stable=True)
    pos = torch.empty_like(group)
    pos[order] = torch.arange(len(group), device=group.device) - (torch.cumsum(counts, 0) - counts)[group[order]]
    padded = features.new_zeros(num_groups, int(counts.max()), features.shape[1])
    padded[group, pos] = features
    weights = features.new_zeros(num_groups, int(counts.max()))
    weights[group, pos] = 1.0 / counts[group].to(features.dtype)
    return padded, weights
