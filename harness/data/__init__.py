"""Datasets: one registry, ``load_dataset(name, split)`` -> uint8 images, labels and metadata.

Names: ``mnist`` (offline default), ``fashion-mnist``, ``cifar10``, ``cifar100`` and a
long-tailed variant ``<name>-lt`` of each (``imbalance=`` factor, see :mod:`.longtail`); datasets
with a spurious attribute (``celeba-blond``, the offline stand-in ``colored-mnist-spurious``) and
their attribute views ``<name>-attr`` (see :mod:`.attributes`).
"""

from harness.data.core import (
    DATASETS,
    DEFAULT_DATASET,
    DatasetInfo,
    ImageData,
    load_dataset,
    register_dataset,
)
from harness.plugins import import_all

import_all(__name__, __path__)  # registers the built-in datasets (every module of this package)

__all__ = ["DATASETS", "DEFAULT_DATASET", "DatasetInfo", "ImageData", "load_dataset", "register_dataset"]
