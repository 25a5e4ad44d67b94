"""Datasets: one registry, ``load_dataset(name, split)`` -> uint8 images, labels and metadata.

Names: ``mnist`` (offline default), ``fashion-mnist``, ``cifar10``, ``cifar100`` and a
long-tailed variant ``<name>-lt`` of each (``imbalance=`` factor, see :mod:`.longtail`).
"""

from harness.data.core import (
    DATASETS,
    DEFAULT_DATASET,
    DatasetInfo,
    ImageData,
    load_dataset,
    register_dataset,
)
from harness.data import sources as _sources  # noqa: F401  (registers the built-in datasets)

__all__ = ["DATASETS", "DEFAULT_DATASET", "DatasetInfo", "ImageData", "load_dataset", "register_dataset"]
