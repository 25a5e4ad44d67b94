"""DM: distribution matching with random networks (Zhao & Bilen, WACV 2023).

Per iteration a fresh random ConvNet f is drawn and frozen;
loss = sum_c || mean_i f(A(x_real_c,i)) - mean_j f(A(s_c,j)) ||^2 (linear-kernel MMD of the
class-mean embeddings), with DSA A shared between a class's real and synthetic batch. Images
start from real ones and move by SGD (lr 1, momentum 0.5). All classes go through the network
together: one pass over the real batches (no-grad, chunked) and one over the synthetic set.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from distillers.base import IterativeConfig, IterativeDistiller, RunContext, register_distiller
from distillers.matching import (class_augment, class_means, embed_real, init_from_real, random_network,
                                 sample_real)
from harness.augment import DSAConfig
from harness.data import ImageData


@dataclass(frozen=True)
class DMConfig(IterativeConfig):
    iterations: int = 20000
    real_batch: int = 256
    lr_images: float = 1.0
    momentum: float = 0.5
    arch: str = "convnet"
    dsa: bool = True


@register_distiller("dm")
class DM(IterativeDistiller):
    Config = DMConfig

    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None:
        self.data, self.run = data, run
        self.by_class = data.indices_by_class()
        images, self.labels = init_from_real(data, ipc, run.seed, run.device, self.classes)
        self.images = images.requires_grad_(True)
        self.syn_group = torch.arange(len(self.classes), device=run.device).repeat_interleave(ipc)
        self.optimizer = torch.optim.SGD([self.images], lr=self.config.lr_images, momentum=self.config.momentum)
        self.dsa = DSAConfig() if self.config.dsa else None

    def step(self, iteration: int) -> float:
        cfg, run, data = self.config, self.run, self.data
        net = random_network(cfg.arch, data, run.seed, iteration, run.device)
        index, group = sample_real(data, self.by_class, self.classes, cfg.real_batch, run.seed, iteration)

        def aug(x, g):
            return class_augment(x, g, self.dsa, run.seed, iteration, self.classes)

        real_mean = class_means(embed_real(net, data, index, group, aug, run.device),
                                group.to(run.device), len(self.classes))
        syn = aug(self.images, self.syn_group)
        syn_mean = class_means(net.embed(syn), self.syn_group, len(self.classes))
        loss = ((real_mean - syn_mean) ** 2).sum()
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        return loss.item()
