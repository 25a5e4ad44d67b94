import time

import pytest
import torch

from harness.data import DATASETS, load_dataset
from harness.data.core import dataset_facts
from harness.data.longtail import long_tailed_counts
from harness.errors import HarnessError


@pytest.mark.parametrize("name,train_size", [("mnist", 60000), ("fashion-mnist", 60000)])
def test_offline_datasets(name, train_size):
    train, test = load_dataset(name, "train"), load_dataset(name, "test")
    assert train.images.shape == (train_size, 1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 10000 and sorted(set(test.labels.tolist())) == list(range(10))
    x = train.normalised(torch.arange(2000))
    assert abs(x.mean().item()) < 0.1 and abs(x.std().item() - 1) < 0.1  # the stated mean/std fit


def test_second_load_is_fast():
    load_dataset("mnist", "train")
    start = time.perf_counter()
    load_dataset("mnist", "train")
    assert time.perf_counter() - start < 0.5


def test_long_tailed_counts_follow_the_formula():
    assert long_tailed_counts(5000, 10, 100) == [5000, 2997, 1796, 1077, 645, 387, 232, 139, 83, 50]
    lt = load_dataset("fashion-mnist-lt", "train", imbalance=100)
    assert lt.class_counts() == long_tailed_counts(6000, 10, 100)
    assert lt.info.imbalance == 100 and lt.info.name == "fashion-mnist-lt"
    assert load_dataset("fashion-mnist-lt", "test").class_counts() == [1000] * 10  # test stays balanced


def test_cifar_without_data_says_how_to_get_it(monkeypatch, tmp_path):
    monkeypatch.setenv("DD_DATA", str(tmp_path))
    import torchvision

    def offline(*args, **kwargs):
        raise RuntimeError("no network")

    monkeypatch.setattr(torchvision.datasets, "CIFAR10", offline)
    with pytest.raises(HarnessError, match="could not be downloaded.*DD_DATA"):
        load_dataset("cifar10", "test")


def test_cifar_loader_reads_torchvision_format(monkeypatch, tmp_path):
    """The real torchvision CIFAR-10 reader on a tiny folder in its on-disk format."""
    import pickle

    import numpy as np
    import torchvision

    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for name in ["data_batch_1", "data_batch_2", "data_batch_3", "data_batch_4", "data_batch_5", "test_batch"]:
        batch = {"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), "labels": [0, 1, 2, 3]}
        (folder / name).write_bytes(pickle.dumps(batch))
    (folder / "batches.meta").write_bytes(pickle.dumps({"label_names": [f"c{i}" for i in range(10)]}))
    monkeypatch.setenv("DD_DATA", str(tmp_path))
    monkeypatch.setattr(torchvision.datasets.cifar, "check_integrity", lambda *args: True)  # md5s of real files
    monkeypatch.setattr(torchvision.datasets.CIFAR10, "download", lambda self: None)
    from harness.data.core import DATASETS

    images, labels = DATASETS.get("cifar10").read("train")
    assert images.shape == (20, 3, 32, 32) and images.dtype == torch.uint8
    assert labels.tolist() == [0, 1, 2, 3] * 5


OFFLINE = [n for n in DATASETS.names() if not n.startswith(("cifar", "celeba"))]  # the others need files or internet


@pytest.mark.parametrize("name", OFFLINE)
def test_registered_class_counts_are_the_data(name):
    """The checks before a run read class sizes from the registry: they must be the data's."""
    facts, data = dataset_facts(name), load_dataset(name, "train")
    assert facts.class_counts() == data.class_counts() and facts.info == data.info


@pytest.mark.parametrize("imbalance", [1.0, 10.0, 100.0, 5421.0])
def test_long_tailed_counts_come_from_the_metadata(imbalance):
    facts, data = dataset_facts("mnist-lt", imbalance), load_dataset("mnist-lt", "train", imbalance=imbalance)
    assert facts.class_counts() == data.class_counts() and facts.info == data.info
