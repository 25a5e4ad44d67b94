"""Datasets with a per-image spurious attribute (de-biased condensation, paper sec. 3 eq. 4, sec. 6.8).

``register_attributed_dataset(info, attribute)`` registers ``info.name``, whose reader returns
(images, labels, attributes), and its attribute view ``<name>-attr``: the same images labelled by
the attribute (and carrying the original label as their attribute). A classifier of the attribute
(the debiasing critic's phi_2) is then pretrained and cached by ``harness.pretrained`` like any other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import torch

from harness.data.core import DatasetInfo, load_dataset, register_dataset
from harness.errors import HarnessError

ATTRIBUTE_VIEW_SUFFIX = "-attr"


@dataclass(frozen=True)
class Attribute:
    """A spurious attribute: its name and the names of its values 0..A-1."""

    name: str
    values: tuple[str, ...]


ATTRIBUTES: dict[str, Attribute] = {}  # dataset name -> its spurious attribute


def attribute_of(dataset: str) -> Attribute:
    if dataset not in ATTRIBUTES:
        known = ", ".join(sorted(ATTRIBUTES)) or "none"
        raise HarnessError(f"dataset '{dataset}' has no spurious attribute: use one of {known}")
    return ATTRIBUTES[dataset]


def attribute_view(dataset: str) -> str:
    """The name of the dataset whose labels are ``dataset``'s attribute."""
    attribute_of(dataset)
    return dataset + ATTRIBUTE_VIEW_SUFFIX


def group_quotas(counts: list[int], total: int) -> list[int]:
    """Largest-remainder apportionment of ``total`` proportional to ``counts`` (ties: lower index)."""
    exact = [total * n / sum(counts) for n in counts]
    quotas = [int(e) for e in exact]
    by_remainder = sorted(range(len(counts)), key=lambda g: (-(exact[g] - quotas[g]), g))
    for g in by_remainder[: total - sum(quotas)]:
        quotas[g] += 1
    return quotas


def proportional_subset(groups: torch.Tensor, total: int, seed: int) -> torch.Tensor:
    """Sorted indices of ``total`` items keeping each group's share, seeded within each group."""
    counts = torch.bincount(groups).tolist()
    gen = torch.Generator().manual_seed(seed)
    keep = []
    for g, k in enumerate(group_quotas(counts, total)):
        idx = torch.nonzero(groups == g).squeeze(1)
        keep.append(idx[torch.randperm(len(idx), generator=gen)[:k]])
    return torch.sort(torch.cat(keep)).values


def _view_reader(base: str):
    def read(split: str):
        data = load_dataset(base, split)
        return data.images, data.attributes, data.labels

    return read


def register_attributed_dataset(info: DatasetInfo, attribute: Attribute, groups: list[int], cache_on_disk: bool = True,
                                splits: tuple[str, ...] = ("train", "val", "test")):
    """Decorator for ``read(split) -> (uint8 images, labels, attributes)``; also registers the view.
    ``groups``: the training split's images per (label, attribute) group, group = label x A +
    attribute (the class sizes of both). Group-robustness data comes with a validation split
    (group-balanced where it can be), the place to choose settings: worst-group test accuracy is
    reported, never selected on."""

    def decorator(read):
        values = len(attribute.values)
        register_dataset(info, tuple(sum(groups[c * values:(c + 1) * values]) for c in range(info.num_classes)),
                         cache_on_disk, splits)(read)
        view = replace(info, name=info.name + ATTRIBUTE_VIEW_SUFFIX, num_classes=values,
                       class_names=attribute.values,
                       source=f"{info.source}; labelled by the attribute '{attribute.name}'")
        register_dataset(view, tuple(sum(groups[a::values]) for a in range(values)), cache_on_disk=False,
                         splits=splits)(_view_reader(info.name))  # the base is cached
        ATTRIBUTES[info.name] = attribute
        return read

    return decorator
