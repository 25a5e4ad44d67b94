"""The dataset container, registry and cached loading."""

from __future__ import annotations

import functools
from dataclasses import dataclass, replace
from typing import Callable

import torch
from safetensors.torch import load_file

from harness.checkpoint import atomic_save_file
from harness.errors import HarnessError
from harness.paths import cache_dir
from harness.registry import Registry, did_you_mean

DEFAULT_DATASET = "mnist"
SPLITS = ("train", "test")  # every dataset has these; some also have "val" (DatasetSpec.splits)


@dataclass(frozen=True)
class DatasetInfo:
    """Static facts about a dataset; ``mean``/``std`` define the normalised space images live in."""

    name: str
    num_classes: int
    channels: int
    size: int
    mean: tuple[float, ...]
    std: tuple[float, ...]
    class_names: tuple[str, ...]
    source: str = ""
    imbalance: float = 1.0
    mirror_invariant: bool = True  # a left-right flip keeps the label (False for digits: DSA skips flip)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


@dataclass
class ImageData:
    """Images as uint8 ``[N, C, H, W]``, int64 labels ``[N]``; ``attributes`` for spurious labels."""

    images: torch.Tensor
    labels: torch.Tensor
    info: DatasetInfo
    split: str
    attributes: torch.Tensor | None = None

    def __len__(self) -> int:
        return len(self.labels)

    def class_counts(self) -> list[int]:
        return torch.bincount(self.labels, minlength=self.info.num_classes).tolist()

    def indices_by_class(self) -> list[torch.Tensor]:
        order = torch.argsort(self.labels, stable=True)
        return list(torch.split(order, self.class_counts()))

    def normalised(self, index: torch.Tensor | None = None, device="cpu") -> torch.Tensor:
        """Float images in the dataset's normalised space: (x / 255 - mean) / std."""
        x = self.images if index is None else self.images[index]
        return normalise(x.to(device), self.info)

    def subset(self, index: torch.Tensor) -> "ImageData":
        attrs = None if self.attributes is None else self.attributes[index]
        return replace(self, images=self.images[index], labels=self.labels[index], attributes=attrs)

    def class_subset(self, classes) -> "ImageData":
        """The images of ``classes`` only (labels stay the global class ids)."""
        return self.subset(torch.isin(self.labels, torch.tensor(sorted(classes))).nonzero().squeeze(1))


def _stats(info: DatasetInfo, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    mean = torch.tensor(info.mean, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)
    std = torch.tensor(info.std, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)
    return mean, std


def normalise(images_uint8: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    mean, std = _stats(info, images_uint8)
    return (images_uint8.float() / 255.0 - mean) / std


def denormalise(images: torch.Tensor, info: DatasetInfo) -> torch.Tensor:
    """Back to [0, 1] pixels (clamped), e.g. for image grids."""
    mean, std = _stats(info, images)
    return (images * std + mean).clamp(0, 1)


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its info, the images per class of its training split (so sizes are
    checked before anything is read) and a function ``(split) -> (uint8 images, labels)``, or
    ``(uint8 images, labels, attributes)`` for a dataset with a per-image (spurious) attribute."""

    info: DatasetInfo
    read: Callable[[str], tuple[torch.Tensor, torch.Tensor]]
    train_counts: tuple[int, ...]
    cache_on_disk: bool = True
    splits: tuple[str, ...] = SPLITS  # "val": a validation split, disjoint from train and test


@dataclass(frozen=True)
class DataFacts:
    """A training split as the registered metadata describes it, nothing read: its info (a
    variant's name and imbalance) and images per class. It answers ``info`` and ``class_counts()``
    as :class:`ImageData` does, so the checks that take data (e.g. a distiller's IPC) run on it."""

    info: DatasetInfo
    counts: tuple[int, ...]
    split: str = "train"

    def class_counts(self) -> list[int]:
        return list(self.counts)


DATASETS: Registry[DatasetSpec] = Registry("dataset")


def register_dataset(info: DatasetInfo, train_counts: tuple[int, ...], cache_on_disk: bool = True,
                     splits: tuple[str, ...] = SPLITS):
    """Decorator for ``read(split)`` (``split`` one of ``splits``); registers ``info.name`` with the
    images per class of its training split (a test checks them against the data)."""

    def decorator(read):
        if len(train_counts) != info.num_classes:
            raise ValueError(f"dataset '{info.name}': {len(train_counts)} class counts for {info.num_classes} classes")
        DATASETS.register(info.name)(DatasetSpec(info, read, tuple(train_counts), cache_on_disk, splits))
        return read

    return decorator


@dataclass(frozen=True)
class Variant:
    view: Callable[[ImageData, str, float], ImageData]
    facts: Callable[[DataFacts, float], DataFacts]


VARIANTS: Registry[Variant] = Registry("dataset variant")  # name suffix -> its view of the data and of the facts


def register_variant(suffix: str, facts: Callable[[DataFacts, float], DataFacts]):
    """Decorator for ``view(data, split, imbalance) -> ImageData``: ``<name><suffix>`` is that view
    of every registered dataset (e.g. ``-lt``, registered by :mod:`harness.data.longtail`);
    ``facts(facts, imbalance)`` is the same view of the metadata."""

    def decorator(view):
        VARIANTS.register(suffix)(Variant(view, facts))
        return view

    return decorator


def dataset_names() -> list[str]:
    """Every accepted name, variants (e.g. long-tailed) included."""
    base = DATASETS.names()
    return sorted(base + [f"{n}{suffix}" for suffix in VARIANTS for n in base])


def split_variant(name: str) -> tuple[str, str | None]:
    """(the registered dataset behind ``name``, its variant suffix or None)."""
    for suffix in VARIANTS:
        if name.endswith(suffix) and name[: -len(suffix)] in DATASETS:
            return name[: -len(suffix)], suffix
    return name, None


def base_name(name: str) -> str:
    """The registered dataset behind ``name``: ``<name>-lt`` is a view of ``<name>``."""
    return split_variant(name)[0]


def registered_info(name: str) -> DatasetInfo | None:
    """The registered facts of ``name``'s dataset (without loading it); None when unknown."""
    base = base_name(name)
    return DATASETS.get(base).info if base in DATASETS else None


def check_dataset(name: str, split: str = "train") -> DatasetSpec:
    """The spec behind ``name``; an unknown name or split is refused in one line, with "did you mean"."""
    if split_variant(name)[0] not in DATASETS:
        raise HarnessError(
            f"unknown dataset '{name}'.{did_you_mean(name, dataset_names())} "
            f"Known: {', '.join(dataset_names())}."
        )
    spec = DATASETS.get(split_variant(name)[0])
    if split not in spec.splits:
        raise HarnessError(f"{name} has no split '{split}': use one of {', '.join(spec.splits)}")
    return spec


def dataset_facts(name: str, imbalance: float = 100.0) -> DataFacts:
    """The training split of ``name`` (a variant with ``imbalance``) from the registered metadata."""
    check_dataset(name)
    base, variant = split_variant(name)
    spec = DATASETS.get(base)
    facts = DataFacts(spec.info, spec.train_counts)
    return VARIANTS.get(variant).facts(facts, imbalance) if variant else facts


def _read(spec: DatasetSpec, split: str) -> dict[str, torch.Tensor]:
    """The reader's tensors by name: images, labels and (when it gives them) attributes."""
    return dict(zip(("images", "labels", "attributes"), spec.read(split)))


@functools.lru_cache(maxsize=16)
def _read_cached(name: str, split: str) -> dict[str, torch.Tensor]:
    spec = DATASETS.get(name)
    if not spec.cache_on_disk:
        return _read(spec, split)
    path = cache_dir("data") / f"{name}-{split}.safetensors"
    if path.exists():
        return load_file(path)
    tensors = _read(spec, split)
    atomic_save_file({k: v.contiguous() for k, v in tensors.items()}, path)
    return tensors


def load_dataset(name: str = DEFAULT_DATASET, split: str = "train", imbalance: float = 100.0) -> ImageData:
    """Load a split as uint8 tensors (cached in memory and under ``<output>/cache/data``).

    A variant name (``<name>-lt``: the long-tailed training split with the given ``imbalance``
    factor, the test split balanced) goes through its registered view.
    """
    spec = check_dataset(name, split)
    base, variant = split_variant(name)
    tensors = _read_cached(base, split)
    data = ImageData(tensors["images"], tensors["labels"], spec.info, split, tensors.get("attributes"))
    return VARIANTS.get(variant).view(data, split, imbalance) if variant else data
