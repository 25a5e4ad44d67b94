"""Long-tailed variants (the LAD / CSDM convention).

n_c = floor(n_max * IF^(-c / (C - 1))) for class index c = 0..C-1, with imbalance factor
IF = n_max / n_min; e.g. CIFAR-10-LT at IF 100 keeps 5000 down to 50 images per class.
The kept images of a class are a fixed seeded choice, so every run sees the same subset.
"""

from __future__ import annotations

import math
from dataclasses import replace

import torch

from harness.data.core import DataFacts, ImageData, register_variant
from harness.errors import HarnessError

SUFFIX = "-lt"


def is_long_tailed(name: str) -> bool:
    return name.endswith(SUFFIX)


def effective_imbalance(name: str, imbalance: float) -> float:
    """The imbalance factor a dataset name runs with: ``imbalance`` for ``<name>-lt``, else 1."""
    return imbalance if is_long_tailed(name) else 1.0


def long_tailed_counts(n_max: int, num_classes: int, imbalance: float) -> list[int]:
    if imbalance < 1:
        raise HarnessError(f"--imbalance must be >= 1 (n_max / n_min), got {imbalance}")
    if num_classes == 1:
        return [n_max]
    return [max(1, math.floor(n_max * imbalance ** (-c / (num_classes - 1)))) for c in range(num_classes)]


def long_tailed(data: ImageData, imbalance: float, seed: int = 0) -> ImageData:
    counts = long_tailed_counts(min(data.class_counts()), data.info.num_classes, imbalance)
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for idx, n in zip(data.indices_by_class(), counts):
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:n]])
    index = torch.sort(torch.cat(keep)).values
    out = data.subset(index)
    out.info = replace(data.info, name=f"{data.info.name}{SUFFIX}", imbalance=float(imbalance))
    return out


def long_tailed_facts(facts: DataFacts, imbalance: float) -> DataFacts:
    """The class sizes :func:`long_tailed` keeps, from the balanced split's metadata."""
    counts = long_tailed_counts(min(facts.counts), facts.info.num_classes, imbalance)
    return DataFacts(replace(facts.info, name=f"{facts.info.name}{SUFFIX}", imbalance=float(imbalance)), tuple(counts))


@register_variant(SUFFIX, long_tailed_facts)
def long_tailed_view(data: ImageData, split: str, imbalance: float) -> ImageData:
    """``<name>-lt``: the long-tailed training split; the test split stays balanced (renamed only)."""
    if split == "train":
        return long_tailed(data, imbalance)
    return replace(data, info=replace(data.info, name=f"{data.info.name}{SUFFIX}", imbalance=float(imbalance)))
