"""Shared fixtures: every test writes under a temporary output folder.

Tests use the registered smoke subsets ``mnist-tiny`` / ``fashion-mnist-tiny`` (the first 20
training and 20 test images per class of the real data), so distillers, pretraining and tasks
run on real images in seconds.
"""

from __future__ import annotations

import pytest

from harness.data import load_dataset


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


@pytest.fixture(scope="module")
def artifact(tmp_path_factory):
    """A random-subset artifact of mnist-tiny (IPC 1), written outside the test's output folder."""
    from distillers import distil
    from harness.paths import environment_variable

    with environment_variable("DD_OUTPUT", str(tmp_path_factory.mktemp("artifact"))):
        return str(distil("random", "mnist-tiny", 1, progress=False, log=lambda s: None))
