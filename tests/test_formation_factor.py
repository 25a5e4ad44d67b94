"""A multi-formation factor is checked against the dataset's image size before any work, for every
registered distiller that has one and for the importer: the decoder needs every grid cell to hold a
pixel, and a factor it cannot apply used to end in a traceback after pretraining."""

from __future__ import annotations

import pytest
import torch

from commands._common import check_distillation
from distillers import DISTILLERS, create_distiller
from harness.data.core import registered_info
from harness.errors import HarnessError
from harness.formation import check_factor, decode
from harness.importing import synthetic_set

FACTORED = [n for n in DISTILLERS.names() if hasattr(create_distiller(n, {}).config, "multi_formation")]


def test_some_distillers_have_a_factor():
    assert {"ncfm", "random-decoded"} <= set(FACTORED)


@pytest.mark.parametrize("name", FACTORED)
def test_a_factor_above_the_image_size_is_refused_before_any_work(name):
    size = registered_info("mnist").size  # (mnist's class sizes from its metadata: nothing is read)
    check_distillation(name, {"multi_formation": size}, "mnist", 1)  # one-pixel cells: decodable
    with pytest.raises(HarnessError, match=f"multi_formation {size + 1} cannot split a {size} x {size} image"):
        check_distillation(name, {"multi_formation": size + 1}, "mnist", 1)


def test_the_largest_accepted_factor_decodes_and_the_importer_refuses_the_next():
    info = registered_info("mnist-tiny")
    check_factor(info.size, info.size)
    assert decode(torch.rand(2, 1, info.size, info.size), info.size).shape == (2 * info.size**2, 1, 28, 28)
    images, labels = torch.rand(10, 1, 28, 28), torch.arange(10)
    with pytest.raises(HarnessError, match="--multi-formation 29 cannot split"):
        synthetic_set(images, labels, info, multi_formation=info.size + 1)
    with pytest.raises(HarnessError, match="--multi-formation 0 cannot split"):
        synthetic_set(images, labels, info, multi_formation=0)
