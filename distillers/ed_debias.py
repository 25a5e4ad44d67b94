"""``ed-debias``: energy-distance matching with a de-biasing critic (Guo et al., eq. 4), the
``ed-critic`` of :mod:`distillers.energy` plus an attribute term from a second critic: eq. 4's term as
written (``attribute_loss=eq4``) or one of the harness's bounded forms (the default ``uniform``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F

from distillers._base import register_distiller
from distillers._matching import init_picks
from distillers._random_matching import MatchBatch
from distillers._settings import NonNegative, OneOf
from distillers.energy import CRITICS, EnergyConfig, EnergyMatching, load_critic
from harness.augment import mix_seed
from harness.data import ImageData
from harness.data.core import denormalise
from harness.errors import HarnessError

ATTRIBUTE_LOSSES = ("hinge", "uniform", "set", "eq4")
ATTRIBUTE_INITS = ("real", "balanced")
REAL_SAMPLINGS = ("natural", "balanced", "group")


@dataclass(frozen=True)
class DebiasConfig(EnergyConfig):
    critic: Annotated[str, OneOf(CRITICS)] = "classifier"
    attribute_loss: Annotated[str, OneOf(ATTRIBUTE_LOSSES)] = "uniform"  # uniform | hinge (bounded per image) | set (per class) | eq4 (as written)
    attribute_weight: NonNegative = 1.0
    attribute_init: Annotated[str, OneOf(ATTRIBUTE_INITS)] = "real"  # real: random real images of the class | balanced: equal per attribute value
    real_sampling: Annotated[str, OneOf(REAL_SAMPLINGS)] = "natural"  # natural: the class's real images | balanced: rarer attribute values repeated


def balanced_picks(data: ImageData, ipc: int, seed: int, classes: list[int], grouped: bool = False) -> list[torch.Tensor]:
    """Per class, ``ipc`` real image indices with the attribute values in equal numbers (the first
    ``ipc mod A`` values one more; a value short of images gives its remainder to the others),
    seeded by (seed, class); ``grouped``: ordered by attribute value (the same images). The harness's
    option, not the paper's (which does not say how S starts)."""
    num_values = int(data.attributes.max()) + 1
    by_class, picks = data.indices_by_class(), []
    for c in classes:
        idx = by_class[c]
        gen = torch.Generator().manual_seed(mix_seed(seed, -8, c))
        pools = [idx[data.attributes[idx] == a] for a in range(num_values)]
        pools = [p[torch.randperm(len(p), generator=gen)] for p in pools]
        # round-robin over the values: value a takes its k-th image in round k while it has one
        order = [p[k] for k in range(max(map(len, pools))) for p in pools if k < len(p)]
        if len(order) < ipc:
            raise HarnessError(f"attribute_init=balanced: class {c} has {len(order)} images < ipc {ipc}")
        chosen = torch.stack(order[:ipc])
        picks.append(chosen[torch.argsort(data.attributes[chosen], stable=True)] if grouped else chosen)
    return picks


def attribute_balanced_pool(idx: torch.Tensor, attributes: torch.Tensor) -> torch.Tensor:
    """``idx`` (one class's image indices) with each attribute value's images repeated (cyclically)
    up to the count of the most frequent value: a uniform draw from it sees every value equally often."""
    pools = [idx[attributes[idx] == a] for a in attributes[idx].unique()]
    n = max(map(len, pools))
    return torch.cat([p.repeat(-(-n // len(p)))[:n] for p in pools])


@register_distiller("ed-debias")
class DebiasedEnergyMatching(EnergyMatching):
    """ED + lambda_t * (label critic + attribute_weight * attribute term): a de-biasing critic (eq. 4).

    Eq. 4 adds + log p(a | s; g_phi2) per image, i.e. maximises the attribute cross-entropy, which is
    unbounded (it rewards driving p(a | s) to 0, i.e. confidently predicting the *other*
    attribute, a new bias). ``attribute_loss`` (A = number of attribute values):
    - ``eq4`` (per image): log p(a | s), eq. 4's attribute term as written (unbounded below).
    - ``uniform`` (per image; the default, the harness's, not eq. 4): KL(U || p(. | s)) >= 0, zero
      exactly when the image's attribute prediction is uniform (does not use a). Its logit
      gradient, p - 1/A, stays large while the critic is confident.
    - ``hinge`` (per image): relu(log p(a | s) + log A) -- eq. 4's term, cut off once the image's own
      attribute is predicted no more than chance 1/A. Its logit gradient, 1 - p(a | s), vanishes
      where the critic is sure of the attribute, which is where distillation starts.
    - ``set`` (the harness's choice, not the paper's): per class c, KL(U || mean_{s in S_c} p(. | s)),
      zero when the class's images *together* carry every attribute value equally. The per-image
      forms are minimised by attribute-ambiguous images (e.g. a digit half red, half green), which
      no real image is; the set form is also minimised by real-looking images of each attribute
      value in equal numbers, the de-biased set a model should train on.
    ``attribute_init``: ``real`` starts S_c from random real images of c (as ``ed``); ``balanced``
    (harness's choice) from real images of c with each attribute value in equal numbers.
    ``real_sampling``: ``natural`` draws each iteration's real batch of c from c's images (the paper:
    ED matches S_c to the biased T_c, whose majority attribute then pulls every image of S_c);
    ``balanced`` (harness's choice) from :func:`attribute_balanced_pool`, so ED matches S_c to T_c
    with the attribute made independent of the label, the distribution the de-biased set stands for;
    ``group`` (harness's choice; needs ``attribute_init=balanced`` and IPC a multiple of the number
    of attribute values) draws as ``balanced`` and matches per (class, attribute value): the energy
    distance between S_{c,a} and T_{c,a}, so no image is matched against the class's other attribute
    value (on the stand-in's validation split it raised the worst seeds, but the colours still
    drifted under DSA: see ``ATTRIBUTE_SETTINGS`` in ``tasks/debias/run.py``).
    The attribute a of a synthetic image is that of the real image it was initialised from
    (``ImageData.attributes``; fixed during distillation). g_phi2 is a classifier of the attribute
    pretrained on the dataset's attribute view ``<dataset>-attr`` (``harness.data.attributes``),
    g_phi1 the label critic of ``ed-critic`` (``critic``); both by the recipe ``critic_pretrain``,
    recorded in the manifest. (The paper uses a pretrained ResNet18 face-attribute classifier for
    both on CelebA, sec. 6; the harness trains its own.) lambda_t multiplies the whole critic term.
    Needs per-image attributes: on a dataset without them it stops with a HarnessError.
    """

    name = "ed-debias"
    Config = DebiasConfig
    smoke_dataset = "colored-mnist-spurious-tiny"

    def prepare(self, data: ImageData, ipc: int, run) -> None:
        from harness.data.attributes import attribute_view

        cfg = self.config
        if data.attributes is None:
            raise HarnessError(f"{self.name} needs per-image spurious attributes, and {data.info.name} has none: "
                               f"use a dataset with an attribute (e.g. colored-mnist-spurious, celeba-blond)")
        self.num_values = num_values = int(data.attributes.max()) + 1
        if cfg.real_sampling == "group" and (cfg.attribute_init != "balanced" or ipc % num_values):
            raise HarnessError(f"real_sampling=group matches each (class, attribute) group, so it needs "
                               f"attribute_init=balanced and an IPC that is a multiple of {num_values} (the "
                               f"attribute's values), got attribute_init={cfg.attribute_init} and IPC {ipc}")
        if cfg.attribute_init == "balanced":
            picks = torch.cat(balanced_picks(data, ipc, run.seed, self.classes, grouped=cfg.real_sampling == "group"))
        else:
            picks = torch.cat(init_picks(data, ipc, run.seed, self.classes))
        self.syn_attributes = data.attributes[picks].to(run.device)
        if cfg.real_sampling == "group":  # before the critics' pretraining: refused before any long work
            counts = torch.bincount(data.attributes[picks] + torch.arange(len(self.classes)).repeat_interleave(ipc)
                                    * num_values, minlength=len(self.classes) * num_values)
            if (counts != ipc // num_values).any():
                raise HarnessError(f"real_sampling=group: a class has too few images of some attribute value for "
                                   f"{ipc // num_values} each at IPC {ipc}: use a smaller IPC or real_sampling=balanced")
        super().prepare(data, ipc, run)
        self.attribute_critic, self.attribute_critic_meta = load_critic(attribute_view(data.info.name), data,
                                                                        cfg.critic_arch, cfg.critic_seed, run,
                                                                        cfg.critic_pretrain,
                                                                        cfg.critic_pretrain_images,
                                                                        self.pretraining_classes(data))
        if cfg.attribute_init == "balanced":
            self.images = data.normalised(picks, run.device).requires_grad_(True)
            self.optimizer = torch.optim.SGD([self.images], lr=cfg.lr_images, momentum=cfg.momentum)
        if cfg.real_sampling != "natural":  # the pools sample_real draws each class's real batch from
            self.by_class = [attribute_balanced_pool(idx, data.attributes) for idx in self.by_class]
        self.init_index = picks

    def matched_groups(self, index: torch.Tensor, group: torch.Tensor) -> tuple[torch.Tensor, int]:
        """``real_sampling=group``: (class position, attribute value) -> one group each; the synthetic
        images are ordered so within each class (``balanced_picks(grouped=True)``)."""
        if self.config.real_sampling != "group":
            return super().matched_groups(index, group)
        return group * self.num_values + self.data.attributes[index], len(self.classes) * self.num_values

    def uses_pretrained(self) -> bool:
        return True  # the attribute critic, whatever ``critic`` says

    def attribute_terms(self, syn_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The bounded attribute term (class docstring; per image ``[N]``, or per class ``[C]`` for
        ``set``), log p(a | s) of each image's own attribute, and the critic's log-probabilities ``[N, A]``."""
        log_p = F.log_softmax(self.attribute_critic(syn_images), dim=1)
        log_a = torch.log(torch.tensor(float(log_p.shape[1]), device=log_p.device))
        own = log_p.gather(1, self.syn_attributes.unsqueeze(1)).squeeze(1)
        if self.config.attribute_loss == "set":
            log_mean = torch.logsumexp(log_p.view(-1, self.ipc, log_p.shape[1]), dim=1) - torch.log(
                torch.tensor(float(self.ipc), device=log_p.device))  # log mean_{s in S_c} p(. | s)  [C, A]
            return -log_mean.mean(1) - log_a, own, log_p
        per_image = {"hinge": lambda: F.relu(own + log_a), "eq4": lambda: own,
                     "uniform": lambda: -log_p.mean(1) - log_a}[self.config.attribute_loss]()
        return per_image, own, log_p

    def attribute_loss(self, syn_images: torch.Tensor) -> torch.Tensor:
        """sum_c of the set term, or sum_c mean_{s in S_c} of a per-image term."""
        terms = self.attribute_terms(syn_images)[0]
        return terms.sum() if self.config.attribute_loss == "set" else terms.sum() / self.ipc

    def extra_meta(self) -> dict:
        """On the final (unaugmented) synthetic images, no test data: whether the attribute critic
        still recognises each image's attribute (mean term, mean p(a | s), share predicted a, and per
        class the mean predicted attribute distribution), and the colour drift: mean pixel value per
        channel ([0, 1]) of the final images and of their real initial images, per (class, attribute)."""
        with torch.no_grad():
            terms, own, log_p = self.attribute_terms(self.images)
            final = denormalise(self.images, self.data.info).mean((2, 3))
            start = self.data.images[self.init_index].float().mean((2, 3)).to(final.device) / 255
        drift = {}
        labels, attrs = self.labels.tolist(), self.syn_attributes.tolist()
        for key in sorted(set(zip(labels, attrs))):
            rows = [i for i, k in enumerate(zip(labels, attrs)) if k == key]
            drift[f"label={key[0]},attr={key[1]}"] = {
                "images": len(rows), "final": [round(v, 4) for v in final[rows].mean(0).tolist()],
                "initial": [round(v, 4) for v in start[rows].mean(0).tolist()]}
        mean_p = log_p.exp().view(-1, self.ipc, log_p.shape[1]).mean(1)
        return {**super().extra_meta(), "attribute_critic_pretraining": self.attribute_critic_meta,
                "attribute_critic_on_final": {"mean_attribute_term": terms.mean().item(),
                                              "mean_p_own_attribute": own.exp().mean().item(),
                                              "share_predicted_own_attribute":
                                                  (log_p.argmax(1) == self.syn_attributes).float().mean().item(),
                                              "mean_p_attribute_per_class": [[round(v, 4) for v in row]
                                                                             for row in mean_p.tolist()]},
                "channel_means": drift}

    def regulariser(self, batch: MatchBatch) -> torch.Tensor | float:
        label = self.label_critic_loss(batch) if self.critic is not None else 0.0
        attribute = self.config.attribute_weight * self.attribute_loss(batch.syn_images)
        return self.critic_lambda(batch.iteration) * (label + attribute)
