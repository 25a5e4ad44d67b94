"""DM: distribution matching with random networks (Zhao & Bilen, WACV 2023).

Per iteration a fresh random ConvNet f is drawn and frozen;
loss = sum_c || mean_i f(A(x_real_c,i)) - mean_j f(A(s_c,j)) ||^2 (linear-kernel MMD of the
class-mean embeddings), with DSA A shared between a class's real and synthetic batch. Images
start from real ones and move by SGD (lr 1, momentum 0.5). All classes go through the network
together: one pass over the real batches (no-grad, chunked) and one over the synthetic set (the
loop is :class:`distillers._random_matching.RandomNetworkMatching`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from distillers._base import register_distiller
from distillers._random_matching import MatchingConfig, RandomNetworkMatching
from distillers._settings import Count, Natural


@dataclass(frozen=True)
class DMConfig(MatchingConfig):
    iterations: Natural = 20000
    real_batch: Count = 256


@register_distiller("dm")
class DM(RandomNetworkMatching):
    Config = DMConfig

    def class_loss(self, real: torch.Tensor, weights: torch.Tensor, syn: torch.Tensor, iteration: int) -> torch.Tensor:
        real_mean = (weights.unsqueeze(-1) * real).sum(1)
        return ((real_mean - syn.mean(1)) ** 2).sum(-1)
