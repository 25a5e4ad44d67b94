"""Random-network per-class matching (DM's structure, Zhao & Bilen 2023) with a pluggable loss.

Per iteration: draw a fresh random frozen network f (``random_network``), a real batch of up to
``real_batch`` images per class (``sample_real``) and one siamese DSA draw per class shared by its
real and synthetic images; embed the real batch under no-grad and the synthetic set with
gradients, and minimise
    sum_c class_loss(f(A(real_c)), f(A(syn_c)))  +  regulariser
by SGD on the images (initialised from real ones). All classes are matched in one batched call:
real features arrive as ``[C, n_max, D]`` padded per class with weights ``[C, n_max]`` (1/n_c on a
class's rows, 0 on padding; ``pad_by_group``), so a class with fewer real images than
``real_batch`` (long-tailed data) is handled exactly; synthetic features are ``[C, ipc, D]``.
Subclasses implement ``class_loss`` and may override ``prepare``, ``features`` and ``regulariser``.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass
from typing import Annotated, Callable

import torch

from distillers._base import IterativeConfig, IterativeDistiller, RunContext
from distillers._settings import EmbeddingArch, Positive, Range
from distillers._matching import (
    class_augment,
    embed,
    embed_real,
    init_from_real,
    pad_by_group,
    random_network,
    sample_real,
    siamese_dsa,
)
from harness.data import ImageData


@dataclass(frozen=True)
class MatchingConfig(IterativeConfig):
    lr_images: Positive = 1.0
    momentum: Annotated[float, Range(0, 1, open_high=True)] = 0.5
    arch: EmbeddingArch = "convnet"
    dsa: bool = True


@dataclass
class MatchBatch:
    """One iteration's draws, for regularisers: the real batch (``index`` into the data, ``group``
    = class position, sorted), the siamese ``augment(x, group)`` and the augmented synthetic images."""

    iteration: int
    index: torch.Tensor
    group: torch.Tensor
    augment: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    syn_images: torch.Tensor


class RandomNetworkMatching(IterativeDistiller):
    Config = MatchingConfig
    data: ImageData
    run: RunContext
    ipc: int

    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None:
        self.data, self.run, self.ipc = data, run, ipc
        self.by_class = data.indices_by_class()
        images, self.labels = init_from_real(data, ipc, run.seed, run.device, self.classes)
        self.images = images.requires_grad_(True)
        self.syn_group = torch.arange(len(self.classes), device=run.device).repeat_interleave(ipc)
        self.optimizer = torch.optim.SGD([self.images], lr=self.config.lr_images, momentum=self.config.momentum)
        self.dsa = siamese_dsa(data.info, self.config.dsa)
        self.prepare(data, ipc, run)

    def prepare(self, data: ImageData, ipc: int, run: RunContext) -> None:
        """Hook: validate options, load critics (called at the end of ``setup``)."""

    def features(self, z: torch.Tensor) -> torch.Tensor:
        """Hook applied to every embedding ``[N, D]`` (e.g. L2 normalisation); identity here."""
        return z

    @abstractmethod
    def class_loss(self, real: torch.Tensor, weights: torch.Tensor, syn: torch.Tensor, iteration: int) -> torch.Tensor:
        """Per-class loss ``[C]`` from real ``[C, n_max, D]`` (padded, ``weights`` ``[C, n_max]``)
        and synthetic ``[C, ipc, D]`` features."""

    def regulariser(self, batch: MatchBatch) -> torch.Tensor | float:
        """Hook: a term added to the summed class loss (e.g. a classifier critic); 0 here."""
        return 0.0

    def matched_groups(self, index: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Hook: the group each real row of the batch is matched in, and the number of groups; the
        synthetic set splits into as many equal, contiguous groups. Here the classes (``group``)."""
        return group, len(self.classes)

    def step(self, iteration: int) -> float:
        cfg, run, data = self.config, self.run, self.data
        net = random_network(cfg.arch, data, run.seed, iteration, run.device)
        index, group = sample_real(data, self.by_class, self.classes, cfg.real_batch, run.seed, iteration)

        def aug(x, g):
            return class_augment(x, g, self.dsa, run.seed, iteration, self.classes)

        matched, n_groups = self.matched_groups(index, group)
        with torch.no_grad():
            real = self.features(embed_real(net, data, index, group, aug, run.device))
            real, weights = pad_by_group(real, matched.to(run.device), n_groups)
        syn_images = aug(self.images, self.syn_group)
        syn = self.features(embed(net, syn_images)).view(n_groups, -1, real.shape[-1])
        loss = self.class_loss(real, weights, syn, iteration).sum()
        loss = loss + self.regulariser(MatchBatch(iteration, index, group, aug, syn_images))
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()
