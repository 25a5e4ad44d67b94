"""NCFM: neural characteristic-function matching (Wang et al., CVPR 2025, arXiv 2502.20653).

The min-max game of eq. (4)/(8), for all classes c at once:

    min_S max_psi  sum_c NCFD_alpha( f(A(real_c)), f(A(decode(S_c))) ; t ~ F_T(psi) )

* NCFD_alpha: :func:`distillers._discrepancy.ncfd`, the mean over frequencies t of
  sqrt(alpha * amplitude + (1 - alpha) * phase) (eq. 7-8), on per-sample L2-normalised features.
* F_T(psi) (sec. 4.2.2), ``psi=``:
  - ``mixture`` (default, the paper's form): a scale mixture of zero-mean Gaussians with
    M = num_freqs / 16 equally weighted components of learnable diagonal scales, 16 draws each,
    t = sigma_m * eps (reparameterised, so the gradient of the discrepancy reaches psi);
    initialised at sigma = 1, i.e. at ``ncfm-nopsi``'s distribution;
  - ``mlp`` (the authors' code): M noise rows through 3 x [Linear(D, D), BatchNorm1d, activation]
    (LeakyReLU 0.2, LeakyReLU 0.2, Tanh), each output row used as 16 frequencies;
  - ``none`` (``ncfm-nopsi``): t ~ N(0, I) drawn fresh every iteration.
  psi ascends the discrepancy ``psi_steps`` times every ``psi_every`` iterations (ratio of psi
  to image steps) with its own optimiser (``psi_optimizer`` adam or sgd, ``psi_lr``); its last
  step uses the same evaluation as the image step (simultaneous descent-ascent), earlier ones
  recompute the features of the same draws without image gradients.
* f: the hybrid extractor (sec. 4.2.3; :mod:`distillers._extractors`): one of ``pretrained`` cached
  ConvNets per iteration with weights beta * initial + (1 - beta) * final, beta ~ U(0, 1).
* Multi-formation (sec. 5.1, factor rho = ``multi_formation``, 2 by default, 1 = off): each stored
  image holds a rho x rho grid of crops, decoded by bilinear upsampling to full size; stored
  images start as tiles of rho^2 downsized real images. A: DSA shared by a class's real and
  decoded synthetic images. Images: AdamW (normalised pixel space).
* Optional, off by default and recorded in the manifest when on: soft labels
  softmax(teacher(x) / T) from a pretrained teacher (the final weights of pretrained model 0),
  and the authors' calibration term (``calibration`` x cross-entropy of that teacher on the
  augmented decoded images; the authors take a separate image step on it, here it is added to
  the image loss).

The artifact holds the DECODED images, so every task consumes it without knowing NCFM: rho^2 x
ipc full-size images per class (labels repeated). Its ``ipc`` stays the storage budget (ipc
stored full-size images per class, as in the paper's tables); the manifest says
``multi_formation`` and ``images_per_class``.

Speed and memory: classes go through in blocks (``class_block`` classes, or by default as many as
fit ``SYN_BLOCK_IMAGES`` decoded images: one chunked no-grad forward of their real batches, one
forward of their decoded synthetic images, the CF of every class and frequency as batched
matmuls, one backward), so memory beyond the synthetic set does not grow with the number of
classes or the IPC; networks and images run channels_last. Every draw (real batch, augmentation, extractor, frequencies) comes
from (seed, iteration, class) or (seed, iteration) alone: the block size and class sharding
across processes do not change the result.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from distillers._base import IterativeConfig, IterativeDistiller, RunContext, register_distiller
from distillers._discrepancy import ncfd, sample_gaussian_frequencies
from distillers._extractors import make_extractor
from distillers._formation import decode, decoded_set, formation_meta, init_stored
from distillers._matching import class_augment, class_blocks, embed, embed_real, pad_by_group, sample_real, siamese_dsa
from harness.augment import mix_seed
from harness.data import ImageData
from harness.distributed import all_reduce_gradients
from harness.errors import HarnessError
from harness.pretrained import pretrained_model

FREQS_PER_ROW = 16  # frequencies per mixture component / MLP row (paper sec. 5.1; authors' code)
PSI_KEY, PSI_INIT_KEY = -5, -6  # class slots of mix_seed for psi's noise and initial weights
PSI_FORMS = ("mixture", "mlp", "none")
PSI_OPTIMIZERS = ("adam", "sgd")


@dataclass(frozen=True)
class NCFMConfig(IterativeConfig):
    iterations: int = 20000  # the published budget (real_batch keeps the default 256 per class)
    lr_images: float = 0.01
    weight_decay: float = 5e-4
    arch: str = "convnet"
    extractor: str = "hybrid"
    pretrained: int = 4  # K models in the hybrid extractor's pool
    pretrain_images: int = 0  # > 0: each pretrained model sees a seeded subset of this size (a CPU budget)
    num_freqs: int = 1024
    alpha: float = 0.5
    psi: str = "mixture"
    psi_optimizer: str = "adam"
    psi_lr: float = 1e-3
    psi_steps: int = 1
    psi_every: int = 1
    normalise_features: bool = True
    multi_formation: int = 2
    dsa: bool = True
    class_block: int = 0  # classes per block; 0: as many as fit SYN_BLOCK_IMAGES (256) decoded images
    soft_labels: bool = False
    soft_temperature: float = 1.0
    calibration: float = 0.0


class MixtureSampler(nn.Module):
    """Scale mixture of zero-mean Gaussians (sec. 4.2.2); ``noise`` [K, D] ~ N(0, I) -> t [K, D]."""

    def __init__(self, num_freqs: int, dim: int):
        super().__init__()
        self.log_scale = nn.Parameter(torch.zeros(num_freqs // FREQS_PER_ROW, dim))

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.log_scale.exp().repeat_interleave(FREQS_PER_ROW, 0) * noise


class MLPSampler(nn.Module):
    """The authors' sampling network; uses the first K / 16 rows of ``noise``."""

    def __init__(self, num_freqs: int, dim: int):
        super().__init__()
        self.rows = num_freqs // FREQS_PER_ROW
        layers: list[nn.Module] = []
        for act in (nn.LeakyReLU(0.2), nn.LeakyReLU(0.2), nn.Tanh()):
            layers += [nn.Linear(dim, dim), nn.BatchNorm1d(dim), act]
        self.net = nn.Sequential(*layers)

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.net(noise[: self.rows]).repeat_interleave(FREQS_PER_ROW, 0)


SAMPLERS = {"mixture": MixtureSampler, "mlp": MLPSampler}


@register_distiller("ncfm-nopsi", psi="none")
@register_distiller("ncfm")
class NCFM(IterativeDistiller):
    Config = NCFMConfig
    smoke_settings = {"iterations": 2, "real_batch": 8, "num_freqs": 64, "pretrained": 1}
    psi: nn.Module | None

    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None:
        cfg = self.config
        self._check(cfg)
        self.data, self.run, self.ipc, self.factor = data, run, ipc, cfg.multi_formation
        self.by_class = data.indices_by_class()
        self.extractor = make_extractor(cfg.extractor, data, cfg.arch, cfg.pretrained, run.device, log=run.log,
                                        max_images=cfg.pretrain_images)
        images, self.labels = init_stored(data, ipc, self.factor, run.seed, run.device, self.classes)
        self.images = images.requires_grad_(True)
        self.optimizer = torch.optim.AdamW([self.images], lr=cfg.lr_images, weight_decay=cfg.weight_decay)
        self.dsa = siamese_dsa(data.info, cfg.dsa)
        with torch.no_grad():
            self.dim = self.extractor(run.seed, 0).embed(self.images[:1]).shape[1]
        self.psi, self.psi_optimizer = None, None
        if cfg.psi != "none":
            torch.manual_seed(mix_seed(run.seed, PSI_INIT_KEY))
            self.psi = SAMPLERS[cfg.psi](cfg.num_freqs, self.dim).to(run.device)
            opt = {"adam": lambda p: torch.optim.Adam(p, lr=cfg.psi_lr),
                   "sgd": lambda p: torch.optim.SGD(p, lr=cfg.psi_lr, momentum=0.5)}[cfg.psi_optimizer]
            self.psi_optimizer = opt(self.psi.parameters())
        self.teacher = None
        if cfg.soft_labels or cfg.calibration > 0:
            self.teacher = pretrained_model(data.info.name, cfg.arch, 0, run.device, imbalance=data.info.imbalance,
                                            log=run.log)

    @staticmethod
    def _check(cfg: NCFMConfig) -> None:
        for key, value, allowed in (("psi", cfg.psi, PSI_FORMS), ("psi_optimizer", cfg.psi_optimizer, PSI_OPTIMIZERS)):
            if value not in allowed:
                raise HarnessError(f"unknown {key} '{value}': use one of {', '.join(allowed)}")
        if cfg.num_freqs < FREQS_PER_ROW or cfg.num_freqs % FREQS_PER_ROW:
            raise HarnessError(f"num_freqs must be a positive multiple of {FREQS_PER_ROW}, got {cfg.num_freqs}")
        if min(cfg.multi_formation, cfg.psi_steps, cfg.psi_every) < 1 or cfg.class_block < 0:
            raise HarnessError("multi_formation, psi_steps and psi_every must be at least 1, class_block at least 0")

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=1) if self.config.normalise_features else z

    def frequencies(self, iteration: int, step: int = 0) -> torch.Tensor:
        """t [num_freqs, D] for this (seed, iteration, psi step): psi(noise), or the noise itself."""
        gen = torch.Generator().manual_seed(mix_seed(self.run.seed, iteration, PSI_KEY, step))
        noise = sample_gaussian_frequencies(self.config.num_freqs, self.dim, generator=gen).to(self.run.device)
        return noise if self.psi is None else self.psi(noise)

    def blocks(self) -> list[tuple[int, int]]:
        return class_blocks(len(self.classes), self.ipc * self.factor**2, self.config.class_block)

    def matching_pass(self, net: nn.Module, index: torch.Tensor, group: torch.Tensor, iteration: int,
                      t: torch.Tensor, image_grad: bool) -> tuple[float, torch.Tensor | None]:
        """sum_c NCFD over all classes, block by block, with backward per block: accumulates the
        images' gradient (when ``image_grad``) and returns (loss, d loss / d t or None)."""
        cfg, run = self.config, self.run
        t_leaf = t.detach().requires_grad_(self.psi is not None)
        per_class = self.ipc * self.factor**2
        total = 0.0
        for lo, hi in self.blocks():
            classes = self.classes[lo:hi]
            rows = (group >= lo) & (group < hi)
            b_index, b_group = index[rows], group[rows] - lo

            def aug(x, g, classes=classes):
                return class_augment(x, g, self.dsa, run.seed, iteration, classes)

            with torch.no_grad():
                real = self.features(embed_real(net, self.data, b_index, b_group, aug, run.device))
                real, weights = pad_by_group(real, b_group.to(run.device), hi - lo)
            with torch.set_grad_enabled(image_grad):
                syn_group = torch.arange(hi - lo, device=run.device).repeat_interleave(per_class)
                syn_images = aug(decode(self.images[lo * self.ipc:hi * self.ipc], self.factor), syn_group)
                syn = self.features(embed(net, syn_images)).view(hi - lo, per_class, -1)
            loss = ncfd(real, syn, t_leaf, cfg.alpha, x_weights=weights).sum()
            total += loss.item()
            if image_grad and cfg.calibration > 0:
                labels = torch.tensor(classes, device=run.device).repeat_interleave(per_class)
                loss = loss + cfg.calibration * F.cross_entropy(self.teacher(syn_images), labels, reduction="sum")
            if loss.requires_grad:
                loss.backward()
        return total, t_leaf.grad

    def psi_ascent(self, t: torch.Tensor, t_grad: torch.Tensor) -> None:
        """One step of psi up the discrepancy (the max of eq. 4), through t = psi(noise)."""
        self.psi_optimizer.zero_grad(set_to_none=True)
        t.backward(-t_grad)
        all_reduce_gradients(self.psi.parameters())
        self.psi_optimizer.step()

    def step(self, iteration: int) -> float:
        cfg, run = self.config, self.run
        net = self.extractor(run.seed, iteration)
        index, group = sample_real(self.data, self.by_class, self.classes, cfg.real_batch, run.seed, iteration)
        update_psi = self.psi is not None and iteration % cfg.psi_every == 0
        for s in range(1, cfg.psi_steps if update_psi else 1):
            t = self.frequencies(iteration, s)
            self.psi_ascent(t, self.matching_pass(net, index, group, iteration, t, image_grad=False)[1])
        t = self.frequencies(iteration)
        self.optimizer.zero_grad(set_to_none=True)
        loss, t_grad = self.matching_pass(net, index, group, iteration, t, image_grad=True)
        self.optimizer.step()
        if update_psi:
            self.psi_ascent(t, t_grad)
        return loss

    def state(self) -> dict:
        state = super().state()
        if self.psi is not None:
            state.update(psi=self.psi.state_dict(), psi_optimizer=self.psi_optimizer.state_dict())
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if self.psi is not None:
            self.psi.load_state_dict(state["psi"])
            self.psi_optimizer.load_state_dict(state["psi_optimizer"])

    def extra_meta(self) -> dict:
        cfg = self.config
        meta = formation_meta(self.ipc, self.factor)
        if cfg.soft_labels:
            meta["soft_labels"] = {"teacher": f"pretrained {cfg.arch} seed 0 (final weights)",
                                   "temperature": cfg.soft_temperature}
        if cfg.calibration > 0:
            meta["calibration"] = {"teacher": f"pretrained {cfg.arch} seed 0 (final weights)",
                                   "weight": cfg.calibration}
        return meta

    def synset(self, images, labels, data, ipc, run, warnings=(), **meta):
        """The artifact: decoded images, labels repeated, soft labels when asked for."""
        with torch.no_grad():
            decoded, labels = decoded_set(images, labels, self.factor)
            soft = None
            if self.config.soft_labels:
                logits = torch.cat([self.teacher(x) for x in decoded.split(256)])
                soft = F.softmax(logits / self.config.soft_temperature, dim=1)
        out = super().synset(decoded, labels, data, ipc, run, warnings, **meta)
        out.soft_labels = None if soft is None else soft.cpu()
        return out
