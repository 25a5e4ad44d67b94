"""Coreset selection baselines: real images chosen per class.

* ``random``: a seeded random subset per class.
* ``herding`` (Welling, ICML 2009): greedily add the image that keeps the running mean of the
  selected embeddings closest to the class mean, mu_c: pick argmin_i ||mu_c - (S_k + f_i)/(k+1)||.
* ``kcenter`` (greedy k-center, Sener & Savarese 2018): start at the image nearest mu_c, then add
  the image farthest from its nearest selected centre.

Embeddings are the penultimate features of a ConvNet pretrained on the real data by the recipe
``pretrain`` (:data:`harness.pretrained.PRESETS`; cached), recorded in the manifest (``pretraining``).
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass

import torch

from distillers._base import Distiller, DistillerConfig, RunContext, register_distiller
from distillers._matching import REAL_CHUNK
from distillers._settings import ClassIds, EmbeddingArch, Preset, Seed
from harness.augment import mix_seed
from harness.data import ImageData
from harness.synset import SyntheticSet


@register_distiller("random")
class RandomSubset(Distiller):
    selects_real_images = True

    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        self.check_ipc(data, ipc)
        picks = []
        for c, idx in enumerate(data.indices_by_class()):
            gen = torch.Generator().manual_seed(mix_seed(run.seed, c))
            picks.append(idx[torch.randperm(len(idx), generator=gen)[:ipc]])
        index = torch.cat(picks)
        return self.synset(data.normalised(index), data.labels[index], data, ipc, run)


@dataclass(frozen=True)
class EmbeddingSelectionConfig(DistillerConfig):
    arch: EmbeddingArch = "convnet"
    pretrained_seed: Seed = 0
    pretrain: Preset = "cpu-2epoch"  # pretraining recipe of the embedding network
    pretrain_classes: ClassIds = ()  # () = the embedding network sees every class; else only these


class EmbeddingSelection(Distiller):
    """Selection in the embedding of a pretrained network; subclasses choose within one class."""

    Config = EmbeddingSelectionConfig
    selects_real_images = True

    def uses_pretrained(self) -> bool:
        return True

    @abstractmethod
    def choose(self, features: torch.Tensor, ipc: int) -> torch.Tensor:
        """Indices (into ``features`` of one class) of the ``ipc`` chosen images."""

    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        from harness.pretrained import get_recipe, pretrained_model, pretrained_summary

        self.check_ipc(data, ipc)
        cfg, info = self.config, data.info
        recipe = get_recipe(cfg.pretrain, models=1, classes=self.pretraining_classes(data))
        net = pretrained_model(info.name, cfg.arch, cfg.pretrained_seed, run.device, recipe=recipe,
                               imbalance=info.imbalance)
        with torch.no_grad():
            features = torch.cat([net.embed(data.normalised(chunk, run.device))
                                  for chunk in torch.arange(len(data)).split(REAL_CHUNK)])
        picks = [idx[self.choose(features[idx.to(run.device)], ipc).cpu()] for idx in data.indices_by_class()
                 if len(idx)]  # a class subset: absent classes are skipped
        index = torch.cat(picks)
        return self.synset(data.normalised(index), data.labels[index], data, ipc, run,
                           feature_extractor=f"{cfg.arch} pretrained seed {cfg.pretrained_seed}",
                           pretraining=pretrained_summary(info.name, cfg.arch, recipe, [cfg.pretrained_seed],
                                                          info.imbalance))


@register_distiller("herding")
class Herding(EmbeddingSelection):
    def choose(self, features: torch.Tensor, ipc: int) -> torch.Tensor:
        mu = features.mean(0)
        total = torch.zeros_like(mu)
        available = torch.ones(len(features), dtype=torch.bool, device=features.device)
        chosen = []
        for k in range(ipc):
            gap = ((mu - (total + features) / (k + 1)) ** 2).sum(1)
            i = int(torch.where(available, gap, torch.inf).argmin())
            chosen.append(i)
            available[i] = False
            total += features[i]
        return torch.tensor(chosen)


@register_distiller("kcenter")
class KCenter(EmbeddingSelection):
    def choose(self, features: torch.Tensor, ipc: int) -> torch.Tensor:
        first = int(((features - features.mean(0)) ** 2).sum(1).argmin())
        chosen = [first]
        nearest = ((features - features[first]) ** 2).sum(1)
        for _ in range(ipc - 1):
            i = int(nearest.argmax())
            chosen.append(i)
            nearest = torch.minimum(nearest, ((features - features[i]) ** 2).sum(1))
        return torch.tensor(chosen)
