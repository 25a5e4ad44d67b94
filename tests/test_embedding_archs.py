"""A distiller that embeds images with a network (``arch``) offers only the architectures that give an
embedding: ``--set arch=vit`` on DM passed the checks and ended in an AttributeError."""

from __future__ import annotations

import pytest
import torch

from commands._common import check_distillation
from distillers import DISTILLERS, create_distiller
from harness.errors import HarnessError
from harness.models import MODELS, build_model
from harness.models.registry import EMBEDDING_MODELS

EMBEDDING = sorted(EMBEDDING_MODELS)
OTHERS = sorted(set(MODELS.names()) - set(EMBEDDING))
WITH_ARCH = [n for n in DISTILLERS.names() if hasattr(create_distiller(n, {}).config, "arch")]


def test_the_registry_splits_into_both_kinds():
    assert "convnet" in EMBEDDING and {"vit", "mlp"} <= set(OTHERS)


@pytest.mark.parametrize("arch", EMBEDDING)
def test_every_embedding_architecture_embeds(arch):
    net = build_model(arch, 1, 10, 28)
    features = net.embed(torch.rand(3, 1, 28, 28))
    assert features.dim() == 2 and features.shape[0] == 3


@pytest.mark.parametrize("name", WITH_ARCH)
def test_a_distiller_refuses_every_architecture_without_an_embedding(name):
    for arch in OTHERS:
        with pytest.raises(HarnessError, match=f"setting 'arch' must be one of .*got '{arch}'"):
            check_distillation(name, {"arch": arch}, "mnist", 1)
