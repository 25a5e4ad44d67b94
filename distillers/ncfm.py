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

Settings (``PRESET_TABLE`` in :mod:`distillers._ncfm_settings`): the paper's value, the authors'
code value (gszfwsb/NCFM at de92fb8; config = ``config/ipc10/cifar10.yaml``), the project's
default and why. ``ncfm-official``
is the authors' configuration (their column); ``ncfm`` the project's CPU-sized default. The
pretraining recipe (``pretrain``, :data:`harness.pretrained.PRESETS`) and the psi scales learnt are
in every manifest (``pretraining``, ``psi``).

psi's bound (``psi_scale_bounds``, mixture form): features are L2-normalised, so for a mixture
scale s every projection <t, x> of a feature is N(0, s^2) and that of a difference x - y is
N(0, s^2 |x - y|^2), |x - y| <= 2 (about 0.5-0.7 between unit-norm ConvNet features of one
class). With s <= 2 a typical pair's phase difference has a standard deviation of at most about
1.4 rad, so the empirical CF is a smooth functional of the distribution; for s >> 2 the phases of any two
samples wrap independently and every empirical CF decays to its 1/sqrt(n) sampling noise, which
the maximisation could inflate without finding a more informative frequency (same-distribution
NCFD 0.049 at s = 1, about 0.10 at s >= 3). Below s = 1/2 the phases span under +-1 rad and the CF
is near its second-order (mean/covariance) expansion. So s = exp(log 1/2 + log 4 * sigmoid(raw))
lies in [1/2, 2], starting at 1. The authors' MLP form is bounded by its Tanh (|t_d| <= 1).

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

import math
from dataclasses import dataclass

import torch
import torch.nn as nn
import torch.nn.functional as F

from distillers._base import IterativeConfig, IterativeDistiller, RunContext, register_distiller
from distillers._discrepancy import ncfd, sample_gaussian_frequencies
from distillers._extractors import make_extractor, resolve_pool
from distillers._formation import decode, decoded_set, formation_meta, init_stored
from distillers._matching import class_augment, class_blocks, embed, embed_real, pad_by_group, sample_real, siamese_dsa
from distillers._ncfm_settings import OFFICIAL
from harness.augment import DSAConfig, mix_seed
from harness.data import ImageData
from harness.distributed import all_reduce_gradients
from harness.errors import HarnessError
from harness.pretrained import get_recipe, pretrained_model

FREQS_PER_ROW = 16  # frequencies per mixture component / MLP row (paper sec. 5.1; authors' code)
PSI_KEY, PSI_INIT_KEY = -5, -6  # class slots of mix_seed for psi's noise and initial weights
PSI_FORMS = ("mixture", "mlp", "none")
PSI_OPTIMIZERS = ("adam", "sgd")
PSI_SCHEDULES = ("iteration", "class")
MATCHING_AUGS = ("dsa", "authors")
# the authors' matching augmentation (aug_type color_crop_cutout, DiffAug batch=True: every family
# applied, one draw shared by a class's real and synthetic batch)
AUTHORS_MATCHING_AUG = DSAConfig(strategy="color_crop_cutout", single_family=False)

@dataclass(frozen=True)
class NCFMConfig(IterativeConfig):
    iterations: int = 20000  # the published budget (real_batch keeps the default 256 per class)
    lr_images: float = 0.01
    weight_decay: float = 5e-4
    arch: str = "convnet"
    extractor: str = "hybrid"
    pretrain: str = "cpu-2epoch"  # pretraining recipe of the hybrid extractor (harness.pretrained.PRESETS)
    pretrained: int = 0  # K models in the hybrid extractor's pool; 0 = the recipe's count
    pretrain_images: int = 0  # > 0: each pretrained model sees a seeded subset of this size (a CPU budget)
    pretrain_classes: tuple = ()  # () = every class; else only these (e.g. the classes seen so far)
    lr_plateau_patience: int = 0  # > 0: image lr x0.5 after this many iterations without a lower loss
    num_freqs: int = 1024
    alpha: float = 0.5
    psi: str = "mixture"
    psi_optimizer: str = "adam"
    psi_lr: float = 1e-3
    psi_steps: int = 1
    psi_every: int = 1
    psi_schedule: str = "iteration"  # iteration: one psi step per iteration; class: one after each class
    psi_scale_bounds: tuple = (0.5, 2.0)  # mixture scales s in [lo, hi] (module docstring)
    loss_scale: float = 1.0
    matching_aug: str = "dsa"
    normalise_features: bool = True
    multi_formation: int = 2
    dsa: bool = True
    class_block: int = 0  # classes per block; 0: as many as fit SYN_BLOCK_IMAGES (256) decoded images
    soft_labels: bool = False
    soft_temperature: float = 1.0
    calibration: float = 0.0

    def __post_init__(self):
        resolve_pool(self)


class MixtureSampler(nn.Module):
    """Scale mixture of zero-mean Gaussians (sec. 4.2.2); ``noise`` [K, D] ~ N(0, I) -> t [K, D].

    Scales s = exp(log lo + (log hi - log lo) * sigmoid(raw)) in ``bounds`` = (lo, hi), starting at 1."""

    def __init__(self, num_freqs: int, dim: int, bounds: tuple = (0.5, 2.0)):
        super().__init__()
        lo, hi = bounds
        if not 0 < lo <= 1 <= hi or lo == hi:
            raise HarnessError(f"psi_scale_bounds must satisfy 0 < lo <= 1 <= hi, lo < hi; got {bounds}")
        self.log_lo, self.log_span = math.log(lo), math.log(hi) - math.log(lo)
        p = min(max(-self.log_lo / self.log_span, 1e-6), 1 - 1e-6)
        self.raw = nn.Parameter(torch.full((num_freqs // FREQS_PER_ROW, dim), math.log(p / (1 - p))))

    def scales(self) -> torch.Tensor:
        return (self.log_lo + self.log_span * torch.sigmoid(self.raw)).exp()

    def forward(self, noise: torch.Tensor) -> torch.Tensor:
        return self.scales().repeat_interleave(FREQS_PER_ROW, 0) * noise


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


@register_distiller("ncfm-official", **OFFICIAL)
@register_distiller("ncfm-nopsi", psi="none")
@register_distiller("ncfm")
class NCFM(IterativeDistiller):
    Config = NCFMConfig
    smoke_settings = {"iterations": 2, "real_batch": 8, "num_freqs": 64, "pretrained": 1, "pretrain": "cpu-2epoch"}
    psi: nn.Module | None

    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None:
        cfg = self.config
        self._check(cfg)
        self.data, self.run, self.ipc, self.factor = data, run, ipc, cfg.multi_formation
        self.by_class = data.indices_by_class()
        self.recipe = get_recipe(cfg.pretrain, cfg.pretrained, cfg.pretrain_images or -1,
                                 self.pretraining_classes(data))
        self.extractor = make_extractor(cfg.extractor, data, cfg.arch, device=run.device, recipe=self.recipe,
                                        log=run.log)
        images, self.labels = init_stored(data, ipc, self.factor, run.seed, run.device, self.classes)
        self.images = images.requires_grad_(True)
        self.optimizer = torch.optim.AdamW([self.images], lr=cfg.lr_images, weight_decay=cfg.weight_decay)
        self.scheduler = None if cfg.lr_plateau_patience < 1 else torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=0.5, patience=cfg.lr_plateau_patience)
        self.dsa = siamese_dsa(data.info, cfg.dsa)
        if cfg.dsa and cfg.matching_aug == "authors":
            self.dsa = AUTHORS_MATCHING_AUG.for_dataset(data.info)
        with torch.no_grad():
            self.dim = self.extractor(run.seed, 0).embed(self.images[:1]).shape[1]
        self.psi, self.psi_optimizer = None, None
        if cfg.psi != "none":
            torch.manual_seed(mix_seed(run.seed, PSI_INIT_KEY))
            bounds = {"bounds": tuple(cfg.psi_scale_bounds)} if cfg.psi == "mixture" else {}
            self.psi = SAMPLERS[cfg.psi](cfg.num_freqs, self.dim, **bounds).to(run.device)
            opt = {"adam": lambda p: torch.optim.Adam(p, lr=cfg.psi_lr),
                   "sgd": lambda p: torch.optim.SGD(p, lr=cfg.psi_lr, momentum=0.5)}[cfg.psi_optimizer]
            self.psi_optimizer = opt(self.psi.parameters())
        self.teacher = None
        if cfg.soft_labels or cfg.calibration > 0:
            self.teacher = pretrained_model(data.info.name, cfg.arch, self.recipe.seed, run.device, recipe=self.recipe,
                                            imbalance=data.info.imbalance, log=run.log)

    def uses_pretrained(self) -> bool:
        cfg = self.config
        return cfg.extractor == "hybrid" or cfg.soft_labels or cfg.calibration > 0

    @staticmethod
    def _check(cfg: NCFMConfig) -> None:
        for key, value, allowed in (("psi", cfg.psi, PSI_FORMS), ("psi_optimizer", cfg.psi_optimizer, PSI_OPTIMIZERS),
                                    ("psi_schedule", cfg.psi_schedule, PSI_SCHEDULES),
                                    ("matching_aug", cfg.matching_aug, MATCHING_AUGS)):
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
        """Class blocks (``class_block``, 0 = by decoded size); one class each under psi_schedule=class."""
        size = 1 if self.psi is not None and self.config.psi_schedule == "class" else self.config.class_block
        return class_blocks(len(self.classes), self.ipc * self.factor**2, size)

    def matching_pass(self, net: nn.Module, index: torch.Tensor, group: torch.Tensor, iteration: int,
                      t: torch.Tensor, image_grad: bool, blocks=None) -> tuple[float, torch.Tensor | None]:
        """sum_c NCFD over the classes of ``blocks`` (default all), block by block, with backward per
        block: accumulates the images' gradient (when ``image_grad``) and returns (loss, d loss / d t)."""
        cfg, run = self.config, self.run
        t_leaf = t.detach().requires_grad_(self.psi is not None)
        per_class = self.ipc * self.factor**2
        total = 0.0
        for lo, hi in blocks or self.blocks():
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
            loss = cfg.loss_scale * ncfd(real, syn, t_leaf, cfg.alpha, x_weights=weights).sum()
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
        self.optimizer.zero_grad(set_to_none=True)
        if update_psi and cfg.psi_schedule == "class":  # the authors' order: per class, match then psi step
            loss = 0.0
            for block in self.blocks():
                t = self.frequencies(iteration)
                part, t_grad = self.matching_pass(net, index, group, iteration, t, True, [block])
                self.psi_ascent(t, t_grad)
                loss += part
        else:
            t = self.frequencies(iteration)
            loss, t_grad = self.matching_pass(net, index, group, iteration, t, image_grad=True)
            if update_psi:
                self.psi_ascent(t, t_grad)
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step(loss)
        return loss

    def state(self) -> dict:
        state = super().state()
        if self.psi is not None:
            state.update(psi=self.psi.state_dict(), psi_optimizer=self.psi_optimizer.state_dict())
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if self.psi is not None:
            self.psi.load_state_dict(state["psi"])
            self.psi_optimizer.load_state_dict(state["psi_optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def extra_meta(self) -> dict:
        cfg = self.config
        meta = {**formation_meta(self.ipc, self.factor), "psi": self.psi_meta()}
        if cfg.extractor == "hybrid":
            meta["pretraining"] = self.extractor.summary(self.data)
        if cfg.soft_labels:
            meta["soft_labels"] = {"teacher": f"pretrained {cfg.arch} seed {self.recipe.seed} (final weights, "
                                              f"recipe {self.recipe.name})",
                                   "temperature": cfg.soft_temperature}
        if cfg.calibration > 0:
            meta["calibration"] = {"teacher": f"pretrained {cfg.arch} seed {self.recipe.seed} (final weights, "
                                              f"recipe {self.recipe.name})",
                                   "weight": cfg.calibration}
        return meta

    def psi_meta(self) -> dict:
        """psi's form; for the mixture its bounds, the quantiles of the learnt scales, the share at
        either bound (within 1%) and each component's mean scale."""
        if not isinstance(self.psi, MixtureSampler):
            return {"form": self.config.psi}
        with torch.no_grad():
            s = self.psi.scales().detach().float().cpu()
        lo, hi = self.config.psi_scale_bounds
        q = torch.quantile(s.flatten(), torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0]))
        return {"form": "mixture", "scale_bounds": [lo, hi],
                "scale_quantiles": dict(zip(["min", "q10", "median", "q90", "max"], q.tolist())),
                "share_at_upper_bound": (s >= hi * 0.99).float().mean().item(),
                "share_at_lower_bound": (s <= lo * 1.01).float().mean().item(),
                "component_mean_scale": s.mean(1).tolist()}

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
