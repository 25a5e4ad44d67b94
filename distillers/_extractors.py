"""Frozen feature extractors for distribution matching, one per iteration.

* ``random``: a fresh randomly initialised network (DM; :func:`distillers._matching.random_network`).
* ``hybrid``: NCFM's extractor (NCFM sec. 4.2.3): the K networks of a pretraining recipe
  (:class:`harness.pretrained.PretrainRecipe`, the distiller's ``pretrain`` preset; initial and
  final weights, cached and reused by :func:`harness.pretrained.get_pretrained`); each
  iteration picks one of them and blends its weights, beta * initial + (1 - beta) * final with
  beta ~ U(0, 1).

Both draws depend on (seed, iteration) alone, so every class and every rank of a class-sharded
run sees the same network. ``make_extractor(kind, data, ...)`` returns a callable
``(seed, iteration) -> nn.Module`` (eval mode, parameters frozen).
"""

from __future__ import annotations

import copy
from typing import Callable

import torch
import torch.nn as nn

from distillers._matching import random_network
from harness.augment import mix_seed
from harness.data import ImageData
from harness.errors import HarnessError
from harness.models import build_model
from harness.pretrained import DEFAULT_PRESET, PRESETS, PretrainRecipe, get_pretrained, get_recipe, pretrained_summary

EXTRACTOR_KEY = -4  # the class slot of mix_seed for the extractor draw (-1..-3 are taken by matching/csdm)
KINDS = ("random", "hybrid")


class HybridExtractor:
    """K pretrained (initial, final) weight pairs; ``(seed, iteration)`` -> one frozen blended network.

    ``recipe`` (default: the ``cpu-2epoch`` preset) makes the networks; ``count`` > 0 and
    ``max_images`` > 0 override its number of networks and training subset."""

    def __init__(self, data: ImageData, arch: str = "convnet", count: int = 0, device="cpu",
                 recipe: PretrainRecipe | None = None, log=print, max_images: int = 0):
        if count < 0:
            raise HarnessError(f"the hybrid extractor needs at least 1 pretrained model, got {count}")
        recipe = recipe or PRESETS[DEFAULT_PRESET]
        self.recipe = recipe.with_overrides(models=count or recipe.models, images=max_images or recipe.images)
        info, self.arch = data.info, arch
        self.seeds = [self.recipe.seed + k for k in range(self.recipe.models)]
        self.pairs = [get_pretrained(info.name, arch, s, self.recipe, device, info.imbalance, log) for s in self.seeds]
        self.net = build_model(arch, info.channels, info.num_classes, info.size)
        self.net.to(device, memory_format=torch.channels_last).eval().requires_grad_(False)

    def draw(self, seed: int, iteration: int) -> tuple[int, float]:
        """(model index, beta) for this iteration, from (seed, iteration) alone."""
        u = torch.rand(2, generator=torch.Generator().manual_seed(mix_seed(seed, iteration, EXTRACTOR_KEY)))
        return min(int(u[0] * len(self.pairs)), len(self.pairs) - 1), float(u[1])

    @torch.no_grad()
    def __call__(self, seed: int, iteration: int) -> nn.Module:
        k, beta = self.draw(seed, iteration)
        init, final = self.pairs[k]
        self.net.load_state_dict({name: torch.lerp(final[name], init[name], beta) if final[name].is_floating_point()
                                  else final[name] for name in final})
        return self.net

    @torch.no_grad()
    def final(self, seed: int, iteration: int) -> nn.Module:
        """The final weights of the network this iteration draws (NCFM's calibration teacher in
        the authors' code, which loads it beside the blend: utils/utils.py update_feature_extractor)."""
        if not hasattr(self, "final_net"):
            self.final_net = copy.deepcopy(self.net)
        self.final_net.load_state_dict(self.pairs[self.draw(seed, iteration)[0]][1])
        return self.final_net

    def summary(self, data: ImageData) -> dict:
        """The manifest entry: the recipe, its fingerprint and each network's test accuracy."""
        return pretrained_summary(data.info.name, self.arch, self.recipe, self.seeds, data.info.imbalance)


def resolve_pool(config) -> None:
    """A config's ``pretrained`` 0 becomes its recipe's number of networks (``pretrain``), so the
    config, its manifest and its artifact's identity say how many networks the extractor blends."""
    if config.pretrained == 0:
        object.__setattr__(config, "pretrained", get_recipe(config.pretrain).models)


def extractor_recipe(config, classes: tuple[int, ...]) -> PretrainRecipe:
    """The pretraining recipe of a config's hybrid extractor (``pretrain``, ``pretrained``,
    ``pretrain_images``), its networks trained on ``classes`` (() = every class)."""
    return get_recipe(config.pretrain, config.pretrained, config.pretrain_images or -1, classes)


def extractor_pretraining(config) -> list[tuple[str, PretrainRecipe]]:
    """(arch, recipe) of the networks a config's extractor loads on the whole dataset: none for a
    random extractor (what :meth:`Distiller.pretraining` returns for NCFM and CSDM)."""
    if config.extractor != "hybrid":
        return []
    return [(config.arch, extractor_recipe(config, tuple(sorted({int(c) for c in config.pretrain_classes}))))]


def configured_recipe(distiller, data: ImageData) -> PretrainRecipe:
    """The recipe a distiller's config names, its networks trained on ``distiller.pretraining_classes``."""
    return extractor_recipe(distiller.config, distiller.pretraining_classes(data))


def configured_extractor(distiller, data: ImageData, run) -> tuple[PretrainRecipe, Callable[[int, int], nn.Module]]:
    """The recipe (``configured_recipe``) and extractor (``extractor``, ``arch``) a distiller's config names."""
    cfg = distiller.config
    recipe = configured_recipe(distiller, data)
    return recipe, make_extractor(cfg.extractor, data, cfg.arch, device=run.device, recipe=recipe, log=run.log)


def make_extractor(kind: str, data: ImageData, arch: str = "convnet", count: int = 0, device="cpu",
                   recipe: PretrainRecipe | None = None, log=print,
                   max_images: int = 0) -> Callable[[int, int], nn.Module]:
    """The per-iteration extractor of ``kind`` (see the module docstring); ``count`` is K for hybrid,
    ``max_images`` (> 0) the size of the seeded training subset each pretrained network sees."""
    if kind == "random":
        return lambda seed, iteration: random_network(arch, data, seed, iteration, device)
    if kind == "hybrid":
        return HybridExtractor(data, arch, count, device, recipe, log, max_images)
    raise HarnessError(f"unknown extractor '{kind}': use one of {', '.join(KINDS)}")
