"""A real batch larger than a class is used as the whole class (the DC/DM authors' ``get_images``
reads the same way; we did not run it); every distiller with a ``real_batch`` says so in one
warning, which the manifest keeps."""

from __future__ import annotations

import pytest

from distillers import DISTILLERS, create_distiller
from harness.data import load_dataset

BATCHED = [n for n in DISTILLERS.names() if hasattr(create_distiller(n, {}).config, "real_batch")]


def test_the_matching_distillers_have_a_real_batch():
    assert {"dm", "ncfm", "csdm"} <= set(BATCHED)


@pytest.mark.parametrize("name", BATCHED)
def test_a_real_batch_above_a_class_is_said_once(name):
    data = load_dataset("mnist-tiny", "train")  # 20 images a class
    fits = create_distiller(name, {"real_batch": 20}).check_init(data, 1)
    assert not [w for w in fits if w.startswith("real_batch")]
    over = [w for w in create_distiller(name, {"real_batch": 21}).check_init(data, 1) if w.startswith("real_batch")]
    assert over == ["real_batch 21 is more than 10 of 10 classes hold (smallest: '0', 20 images): those give all "
                    "their images each iteration"]
