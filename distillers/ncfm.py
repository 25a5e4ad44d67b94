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
  psi ascends the discrepancy (``psi_update=ascent``) ``psi_steps`` times every ``psi_every``
  iterations (ratio of psi to image steps) with its own optimiser (``psi_optimizer`` adam or sgd,
  ``psi_lr``); its last step uses the same evaluation as the image step (simultaneous
  descent-ascent), earlier ones recompute the features of the same draws without image gradients.
  ``psi_update=none``: psi stays at its random initialisation (fresh noise through a fixed psi).
* f: the hybrid extractor (sec. 4.2.3; :mod:`distillers._extractors`): one of ``pretrained`` cached
  ConvNets per iteration with weights beta * initial + (1 - beta) * final, beta ~ U(0, 1).
* Multi-formation (sec. 5.1, factor rho = ``multi_formation``, 2 by default, 1 = off): each stored
  image holds a rho x rho grid of crops, decoded by bilinear upsampling to full size; stored
  images start as tiles of rho^2 downsized real images. A: DSA shared by a class's real and
  decoded synthetic images. Images: AdamW on normalised pixels, one step per iteration.
* Optional, off by default and recorded in the manifest when on: soft labels
  softmax(teacher(x) / T) from a pretrained teacher (the final weights of pretrained model 0;
  the ``ncfm-soft`` protocol trains on them as the authors' soft-label evaluation does, at T = 1),
  and the authors' calibration term (``calibration`` x cross-entropy of a teacher on the
  augmented decoded images): added to the image loss, or (``calibration_steps`` n > 0) n image
  steps of its own after the matching (mean over a class's images, as the authors'), teacher
  network 0 or (``calibration_teacher=drawn``) the final weights of the iteration's drawn network.
* The authors' code, each a setting ``ncfm-official`` turns on (:mod:`distillers._ncfm_parts`):
  ``pixel_space`` (images in [0, 1], normalised inside the augmentation, clamped to [0, 1] once
  at the start of each iteration, so the artifact is the unclamped result of the last steps);
  ``image_step=class`` (an AdamW step after each class's loss, on the one tensor that holds every
  class: Adam's moments keep moving, and weight decay shrinks, every class's images at every
  class's step, and the step count grows by the number of classes per iteration; with classes
  sharded across processes each process steps its own classes, as the authors' ranks do);
  ``init=authors``; ``real_sample=first``; ``frequency_draw=class``; ``lr_plateau_factor`` 0.25;
  ``image_optimizer=authors`` (their per-dataset optimiser, :func:`distillers._ncfm_parts.image_optimizer_choice`;
  the one used is in the manifest, ``image_optimizer``).

Settings (``PRESET_TABLE`` in :mod:`distillers._ncfm_settings`): the paper's value, the authors'
code value (gszfwsb/NCFM at de92fb8; config = ``config/ipc10/cifar10.yaml``), the project's
default and why; what ``ncfm-official`` still does not reproduce is listed there (``NOT_REPRODUCED``).
``ncfm-official`` is the authors' shipped configuration (their column: no sampling net, 4,096
frequencies), ``ncfm-official-psi`` the same with their sampling net on as their code runs it: psi
stays at its random initialisation (``psi_update=none``; the ``psi_update`` row says why);
``ncfm-official-psi-trained`` is the harness's variant in which that network ascends the
discrepancy (the paper's min-max, not what their code does); ``ncfm`` the project's CPU default. The pretraining recipe (``pretrain``, :data:`harness.pretrained.PRESETS`) and the psi
scales learnt are in every manifest (``pretraining``, ``psi``).

psi's bound (``psi_scale_bounds``, mixture form, [1/2, 2]) is argued in :class:`MixtureSampler`.

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
across processes do not change the result (except under ``image_step=class``, above).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

import torch
import torch.nn as nn
import torch.nn.functional as F

from distillers import _ncfm_parts as parts
from distillers._base import IterativeConfig, IterativeDistiller, RunContext, register_distiller
from distillers._discrepancy import ncfd, sample_gaussian_frequencies
from distillers._extractors import KINDS, configured_extractor, extractor_pretraining, resolve_pool
from distillers._formation import decode, decoded_set, formation_meta, init_stored
from distillers._matching import class_augment, class_blocks, embed, embed_real, pad_by_group, sample_real, siamese_dsa
from distillers._ncfm_parts import FREQS_PER_ROW, SAMPLERS, MixtureSampler, MLPSampler
from distillers._ncfm_settings import OFFICIAL, OFFICIAL_PSI, OFFICIAL_PSI_TRAINED
from distillers._settings import (
    MAX_COUNT,
    MAX_VALUE,
    ClassIds,
    Count,
    EmbeddingArch,
    Fraction,
    Natural,
    NonNegative,
    OneOf,
    Positive,
    Preset,
    Range,
)
from harness.augment import DSAConfig, mix_seed
from harness.data import ImageData
from harness.distributed import all_reduce_gradients
from harness.errors import HarnessError
from harness.pretrained import pretrained_model

PSI_KEY, PSI_INIT_KEY = -5, -6  # class slots of mix_seed for psi's noise and initial weights
PER = ("iteration", "class")  # once per iteration, or once per class (the authors' loop)
CALIB_KEY = -7  # the mix_seed slot of the calibration step's augmentation
__all__ = ["NCFM", "NCFMConfig", "MixtureSampler", "MLPSampler"]
# the authors' matching augmentation (aug_type color_crop_cutout, DiffAug batch=True: every family
# applied, one draw shared by a class's real and synthetic batch); their crop_fn shifts by whole
# pixels: matching_crop 'whole-pixels'
AUTHORS_MATCHING_AUG = DSAConfig(strategy="color_crop_cutout", single_family=False)

@dataclass(frozen=True)
class NCFMConfig(IterativeConfig):
    iterations: Natural = 20000  # the published budget (real_batch keeps the default 256 per class)
    lr_images: Positive = 0.01
    weight_decay: NonNegative = 5e-4
    image_optimizer: Annotated[str, OneOf(("adamw", "authors"))] = "adamw"  # adamw: AdamW(lr_images, weight_decay); authors: their per-dataset choice
    arch: EmbeddingArch = "convnet"
    extractor: Annotated[str, OneOf(KINDS)] = "hybrid"
    pretrain: Preset = "cpu-2epoch"  # pretraining recipe of the hybrid extractor (harness.pretrained.PRESETS)
    pretrained: Natural = 0  # K models in the hybrid extractor's pool; 0 = the recipe's count
    pretrain_images: Natural = 0  # > 0: each pretrained model sees a seeded subset of this size (a CPU budget)
    pretrain_classes: ClassIds = ()  # () = every class; else only these (e.g. the classes seen so far)
    lr_plateau_patience: Natural = 0  # > 0: image lr x0.5 after this many iterations without a lower loss
    num_freqs: Annotated[int, Range(FREQS_PER_ROW, MAX_COUNT, multiple=FREQS_PER_ROW)] = 1024
    alpha: Fraction = 0.5
    psi: Annotated[str, OneOf(("mixture", "mlp", "none"))] = "mixture"
    psi_optimizer: Annotated[str, OneOf(("adam", "sgd"))] = "adam"
    psi_lr: Positive = 1e-3
    psi_steps: Count = 1
    psi_every: Count = 1
    psi_schedule: Annotated[str, OneOf(PER)] = "iteration"  # iteration: one psi step per iteration; class: one after each class
    psi_scale_bounds: Annotated[tuple[float, float], Range(0, MAX_VALUE, open_low=True)] = (0.5, 2.0)  # mixture scales s in [lo, hi] (MixtureSampler)
    psi_update: Annotated[str, OneOf(("ascent", "none"))] = "ascent"  # ascent: psi maximises the discrepancy; none: psi stays at its random init
    loss_scale: Positive = 1.0
    matching_aug: Annotated[str, OneOf(("dsa", "authors"))] = "dsa"
    matching_crop: Annotated[str, OneOf(("continuous", "whole-pixels"))] = "continuous"  # DSAConfig.crop_whole_pixels
    normalise_features: bool = True
    multi_formation: Count = 2
    dsa: bool = True
    class_block: Natural = 0  # classes per block; 0: as many as fit SYN_BLOCK_IMAGES (256) decoded images
    soft_labels: bool = False
    soft_temperature: Positive = 1.0
    calibration: NonNegative = 0.0
    calibration_teacher: Annotated[str, OneOf(("fixed", "drawn"))] = "fixed"  # fixed: pretrained network 0; drawn: the iteration's network (authors')
    calibration_steps: Natural = 0  # 0: calibration added to the image loss; n: its own n image steps per iteration
    frequency_draw: Annotated[str, OneOf(PER)] = "iteration"  # iteration: one draw for every class; class: a fresh one per class (authors')
    lr_plateau_factor: Annotated[float, Range(0, 1, open_low=True)] = 0.5  # the image lr's factor on a plateau (lr_plateau_patience > 0)
    image_step: Annotated[str, OneOf(PER)] = "iteration"  # iteration: one image step per iteration; class: one per class (authors')
    pixel_space: bool = False  # images kept in [0, 1] pixels, clamped at each iteration's start (authors')
    init: Annotated[str, OneOf(("random", "authors"))] = "random"  # random: seeded real images per class; authors: each class's first, their tiling
    real_sample: Annotated[str, OneOf(("random", "first"))] = "random"  # random: a fresh seeded real batch per iteration; first: a class's first images

    def __post_init__(self):  # beyond each setting's declaration: the settings that go together
        super().__post_init__()
        if self.psi_scale_bounds[0] > self.psi_scale_bounds[1]:
            raise HarnessError(f"psi_scale_bounds must be lo,hi with lo <= hi, got {self.psi_scale_bounds}")
        if self.calibration_teacher == "drawn" and self.extractor != "hybrid":
            raise HarnessError("calibration_teacher=drawn takes the hybrid extractor's network: set extractor=hybrid")
        resolve_pool(self)


@register_distiller("ncfm-official-psi-trained", **OFFICIAL_PSI_TRAINED)
@register_distiller("ncfm-official-psi", **OFFICIAL_PSI)
@register_distiller("ncfm-official", **OFFICIAL)
@register_distiller("ncfm-nopsi", psi="none")
@register_distiller("ncfm")
class NCFM(IterativeDistiller):
    Config = NCFMConfig
    smoke_settings = {"iterations": 2, "real_batch": 8, "num_freqs": 64, "pretrained": 1, "pretrain": "cpu-2epoch"}
    psi: nn.Module | None

    def setup(self, data: ImageData, ipc: int, run: RunContext, warnings: list[str]) -> None:
        cfg = self.config
        self.data, self.run, self.ipc, self.factor = data, run, ipc, cfg.multi_formation
        self.by_class = data.indices_by_class()
        self.recipe, self.extractor = configured_extractor(self, data, run)
        init = parts.authors_init(data, ipc, self.factor, run.device, self.classes) if cfg.init == "authors" else \
            init_stored(data, ipc, self.factor, run.seed, run.device, self.classes)
        images, self.labels = init
        self.images = (parts.to_pixels(images, data) if cfg.pixel_space else images).requires_grad_(True)
        self.optimizer = parts.image_optimizer(cfg, self.images, data.info.name, ipc)
        self.scheduler = None if cfg.lr_plateau_patience < 1 else torch.optim.lr_scheduler.ReduceLROnPlateau(
            self.optimizer, mode="min", factor=cfg.lr_plateau_factor, patience=cfg.lr_plateau_patience)
        self.dsa = siamese_dsa(data.info, cfg.dsa)
        if cfg.dsa and cfg.matching_aug == "authors":
            self.dsa = AUTHORS_MATCHING_AUG.for_dataset(data.info)
        if self.dsa is not None:
            self.dsa = replace(self.dsa, crop_whole_pixels=cfg.matching_crop == "whole-pixels")
        with torch.no_grad():
            self.dim = self.extractor(run.seed, 0).embed(self.decoded(0, 1)[:1]).shape[1]
        self.psi, self.psi_optimizer = None, None
        if cfg.psi != "none":
            torch.manual_seed(mix_seed(run.seed, PSI_INIT_KEY))
            bounds = {"bounds": tuple(cfg.psi_scale_bounds)} if cfg.psi == "mixture" else {}
            self.psi = SAMPLERS[cfg.psi](cfg.num_freqs, self.dim, **bounds).to(run.device)
        if self.trains_psi():
            opt = {"adam": lambda p: torch.optim.Adam(p, lr=cfg.psi_lr),
                   "sgd": lambda p: torch.optim.SGD(p, lr=cfg.psi_lr, momentum=0.5)}[cfg.psi_optimizer]
            self.psi_optimizer = opt(self.psi.parameters())
        self.teacher = None
        if cfg.soft_labels or (cfg.calibration > 0 and cfg.calibration_teacher == "fixed"):
            self.teacher = pretrained_model(data.info.name, cfg.arch, self.recipe.seed, run.device, recipe=self.recipe,
                                            imbalance=data.info.imbalance, log=run.log)

    def trains_psi(self) -> bool:
        """Whether psi ascends the discrepancy (a psi, ``psi_update=ascent``)."""
        return self.psi is not None and self.config.psi_update == "ascent"

    def uses_pretrained(self) -> bool:
        cfg = self.config
        return cfg.extractor == "hybrid" or cfg.soft_labels or cfg.calibration > 0

    def pretraining(self) -> list:
        return extractor_pretraining(self.config)

    def decoded(self, lo: int, hi: int) -> torch.Tensor:
        """The decoded images of classes lo..hi (positions in ``self.classes``), normalised."""
        x = decode(self.images[lo * self.ipc:hi * self.ipc], self.factor)
        return parts.from_pixels(x, self.data) if self.config.pixel_space else x

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=1) if self.config.normalise_features else z

    def frequencies(self, iteration: int, step: int = 0, block: tuple = ()) -> torch.Tensor:
        """t [num_freqs, D] for this (seed, iteration, psi step), and under frequency_draw=class for
        the class of ``block`` too: psi(noise), or the noise itself."""
        per_class = self.config.frequency_draw == "class" and block
        keys = (step, self.classes[block[0]]) if per_class else (step,)
        gen = torch.Generator().manual_seed(mix_seed(self.run.seed, iteration, PSI_KEY, *keys))
        noise = sample_gaussian_frequencies(self.config.num_freqs, self.dim, generator=gen).to(self.run.device)
        return noise if self.psi is None else self.psi(noise)

    def blocks(self) -> list[tuple[int, int]]:
        """Class blocks (``class_block``, 0 = by decoded size); one class each under ``per_class``."""
        return class_blocks(len(self.classes), self.ipc * self.factor**2, 1 if self.per_class() else self.config.class_block)

    def per_class(self) -> bool:
        """Whether classes go one by one (the authors' loop): image_step, psi_schedule or frequency_draw=class."""
        cfg = self.config
        psi_class = self.trains_psi() and cfg.psi_schedule == "class"
        return cfg.image_step == "class" or cfg.frequency_draw == "class" or psi_class

    def matching_pass(self, net: nn.Module, index: torch.Tensor, group: torch.Tensor, iteration: int,
                      t: torch.Tensor, image_grad: bool, blocks=None) -> tuple[float, torch.Tensor | None]:
        """sum_c NCFD over the classes of ``blocks`` (default all), block by block, with backward per
        block: accumulates the images' gradient (when ``image_grad``) and returns (loss, d loss / d t)."""
        cfg, run = self.config, self.run
        t_leaf = t.detach().requires_grad_(self.trains_psi())
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
                syn_images = aug(self.decoded(lo, hi), syn_group)
                syn = self.features(embed(net, syn_images)).view(hi - lo, per_class, -1)
            loss = cfg.loss_scale * ncfd(real, syn, t_leaf, cfg.alpha, x_weights=weights).sum()
            total += loss.item()
            if image_grad and cfg.calibration > 0 and cfg.calibration_steps == 0:
                labels = torch.tensor(classes, device=run.device).repeat_interleave(per_class)
                loss = loss + cfg.calibration * F.cross_entropy(self.calibration_net(iteration)(syn_images), labels,
                                                             reduction="sum")
            if loss.requires_grad:
                loss.backward()
        return total, t_leaf.grad

    def psi_ascent(self, t: torch.Tensor, t_grad: torch.Tensor, step: bool = True) -> None:
        """psi up the discrepancy (the max of eq. 4), through t = psi(noise): accumulate its gradient
        and (``step``) take the step."""
        t.backward(-t_grad)
        if step:
            all_reduce_gradients(self.psi.parameters())
            self.psi_optimizer.step()
            self.psi_optimizer.zero_grad(set_to_none=True)

    def calibration_net(self, iteration: int) -> nn.Module:
        """The calibration teacher (``calibration_teacher``)."""
        drawn = self.config.calibration_teacher == "drawn"
        return self.extractor.final(self.run.seed, iteration) if drawn else self.teacher

    def real_batch(self, iteration: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(indices, class positions) of this iteration's real images (``real_sample``)."""
        cfg = self.config
        if cfg.real_sample == "first":
            return parts.first_real(self.by_class, self.classes, cfg.real_batch)
        return sample_real(self.data, self.by_class, self.classes, cfg.real_batch, self.run.seed, iteration)

    def step(self, iteration: int) -> float:
        cfg, run = self.config, self.run
        if cfg.pixel_space:  # the authors clamp once, before the iteration's steps (condenser/Condenser.py)
            with torch.no_grad():
                self.images.clamp_(0.0, 1.0)
        net = self.extractor(run.seed, iteration)
        index, group = self.real_batch(iteration)
        update_psi = self.trains_psi() and iteration % cfg.psi_every == 0
        for s in range(1, cfg.psi_steps if update_psi else 1):
            t = self.frequencies(iteration, s)
            self.psi_ascent(t, self.matching_pass(net, index, group, iteration, t, image_grad=False)[1])
        self.optimizer.zero_grad(set_to_none=True)
        if self.per_class():  # the authors' order: per class, match then step
            loss, blocks = 0.0, self.blocks()
            for n, block in enumerate(blocks):
                t = self.frequencies(iteration, block=block)
                part, grad = self.matching_pass(net, index, group, iteration, t, True, [block])
                loss += part
                if update_psi:  # a step per class, or one after the last class
                    self.psi_ascent(t, grad, step=cfg.psi_schedule == "class" or n == len(blocks) - 1)
                if cfg.image_step == "class":  # AdamW on the whole tensor: every class's moments move
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
        else:
            t = self.frequencies(iteration)
            loss, t_grad = self.matching_pass(net, index, group, iteration, t, image_grad=True)
            if update_psi:
                self.psi_ascent(t, t_grad)
        if cfg.image_step == "iteration":
            self.optimizer.step()
        if cfg.calibration > 0 and cfg.calibration_steps > 0:
            loss += self.calibration_pass(iteration)
        if self.scheduler is not None:
            self.scheduler.step(loss)
        return loss

    def calibration_pass(self, iteration: int) -> float:
        """The authors' calibration (condenser/compute_loss.py compute_calib_loss, after the match
        loop): ``calibration_steps`` rounds of ``calibration`` x mean cross-entropy of the teacher on
        the augmented decoded images, an image step per class (``image_step=class``) or per round."""
        cfg, run = self.config, self.run
        per_class = self.ipc * self.factor**2
        blocks = class_blocks(len(self.classes), per_class, 1 if cfg.image_step == "class" else len(self.classes))
        teacher = self.calibration_net(iteration)
        total = 0.0
        for r in range(cfg.calibration_steps):
            self.optimizer.zero_grad(set_to_none=True)
            for lo, hi in blocks:
                classes = self.classes[lo:hi]
                group = torch.arange(hi - lo, device=run.device).repeat_interleave(per_class)
                x = class_augment(self.decoded(lo, hi), group, self.dsa, mix_seed(run.seed, CALIB_KEY, r), iteration,
                                  classes)
                labels = torch.tensor(classes, device=run.device).repeat_interleave(per_class)
                losses = F.cross_entropy(teacher(x), labels, reduction="none").view(hi - lo, per_class)
                loss = cfg.calibration * losses.mean(1).sum()
                loss.backward()
                total += loss.item()
                if cfg.image_step == "class":
                    self.optimizer.step()
                    self.optimizer.zero_grad(set_to_none=True)
            if cfg.image_step == "iteration":
                self.optimizer.step()
        return total

    def state(self) -> dict:
        state = super().state()
        if self.psi is not None:
            state["psi"] = self.psi.state_dict()
        if self.psi_optimizer is not None:
            state["psi_optimizer"] = self.psi_optimizer.state_dict()
        if self.scheduler is not None:
            state["scheduler"] = self.scheduler.state_dict()
        return state

    def load_state(self, state: dict) -> None:
        super().load_state(state)
        if self.psi is not None:
            self.psi.load_state_dict(state["psi"])
        if self.psi_optimizer is not None:
            self.psi_optimizer.load_state_dict(state["psi_optimizer"])
        if self.scheduler is not None:
            self.scheduler.load_state_dict(state["scheduler"])

    def extra_meta(self) -> dict:
        cfg = self.config
        meta = {**formation_meta(self.ipc, self.factor), "psi": self.psi_meta(),
                "image_optimizer": parts.image_optimizer_meta(cfg, self.data.info.name, self.ipc)}
        if cfg.extractor == "hybrid":
            meta["pretraining"] = self.extractor.summary(self.data)
        if cfg.soft_labels:
            meta["soft_labels"] = {"teacher": f"pretrained {cfg.arch} seed {self.recipe.seed} (final weights, "
                                              f"recipe {self.recipe.name})",
                                   "temperature": cfg.soft_temperature}
        if cfg.calibration > 0:
            teacher = f"pretrained {cfg.arch} seed {self.recipe.seed}" if cfg.calibration_teacher == "fixed" else \
                "the pretrained network the hybrid extractor draws each iteration"
            meta["calibration"] = {"teacher": f"{teacher} (final weights, recipe {self.recipe.name})",
                                   "weight": cfg.calibration,
                                   "step": f"{cfg.calibration_steps} own image step(s) per iteration"
                                   if cfg.calibration_steps else "added to the matching loss"}
        return meta

    def psi_meta(self) -> dict:
        """psi's form and update; for the mixture its scales (:func:`distillers._ncfm_parts.mixture_meta`)."""
        update = {"update": self.config.psi_update if self.psi is not None else "none"}
        if not isinstance(self.psi, MixtureSampler):
            return {"form": self.config.psi, **update}
        return {**parts.mixture_meta(self.psi, self.config.psi_scale_bounds), **update}

    def synset(self, images, labels, data, ipc, run, warnings=(), **meta):
        """The artifact: decoded images, labels repeated, soft labels when asked for."""
        with torch.no_grad():
            decoded, labels = decoded_set(images, labels, self.factor)
            if self.config.pixel_space:  # not clamped: the authors save the images after the last steps
                decoded = parts.from_pixels(decoded, data)
            soft = None
            if self.config.soft_labels:
                logits = torch.cat([self.teacher(x) for x in decoded.split(256)])
                soft = F.softmax(logits / self.config.soft_temperature, dim=1)
        out = super().synset(decoded, labels, data, ipc, run, warnings, **meta)
        out.soft_labels = None if soft is None else soft.cpu()
        return out
