"""Shared fixtures: every test writes under a temporary output folder; tiny real-data datasets.

``mnist-tiny`` / ``fashion-mnist-tiny`` are registered datasets made of the first 20 training
and 20 test images per class of the real data, so distillers, pretraining and tasks run on real
images in seconds.
"""

from __future__ import annotations

import pytest
import torch

from harness.data import DATASETS, load_dataset, register_dataset
from harness.data.core import DatasetInfo

TINY_PER_CLASS = 20


def _tiny_reader(base: str):
    def read(split: str):
        full = load_dataset(base, split)
        index = torch.cat([idx[:TINY_PER_CLASS] for idx in full.indices_by_class()])
        return full.images[index], full.labels[index]

    return read


for _base in ("mnist", "fashion-mnist"):
    if f"{_base}-tiny" not in DATASETS:
        _info = DATASETS.get(_base).info
        register_dataset(DatasetInfo(**{**_info.__dict__, "name": f"{_base}-tiny"}), cache_on_disk=False)(
            _tiny_reader(_base))


@pytest.fixture(scope="session")
def data_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("shared-output")


@pytest.fixture(autouse=True)
def output_dir(tmp_path, monkeypatch, data_cache):
    """Outputs go to a fresh folder per test; converted datasets are shared by the session."""
    monkeypatch.setenv("DD_OUTPUT", str(tmp_path))
    (tmp_path / "cache").mkdir()
    (tmp_path / "cache" / "data").symlink_to(_ensure(data_cache / "data"))
    (tmp_path / "cache" / "pretrained").symlink_to(_ensure(data_cache / "pretrained"))
    return tmp_path


def _ensure(path):
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture
def tiny():
    return load_dataset("mnist-tiny", "train")
