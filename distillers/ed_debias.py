"""``ed-debias``: energy-distance matching with the de-biasing critic (Guo et al., eq. 4), the
``ed-critic`` of :mod:`distillers.energy` plus a bounded attribute term from a second critic."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from distillers._base import register_distiller
from distillers._matching import init_picks
from distillers._random_matching import MatchBatch
from distillers.energy import EnergyConfig, EnergyMatching, check_choice, load_critic
from harness.data import ImageData
from harness.errors import HarnessError

ATTRIBUTE_LOSSES = ("hinge", "uniform")


@dataclass(frozen=True)
class DebiasConfig(EnergyConfig):
    critic: str = "classifier"
    attribute_loss: str = "uniform"  # uniform | hinge (bounded forms of eq. 4's + log p(a | s))
    attribute_weight: float = 1.0


@register_distiller("ed-debias")
class DebiasedEnergyMatching(EnergyMatching):
    """ED + lambda_t * (label critic + attribute_weight * attribute term): the de-biasing critic, eq. 4.

    Eq. 4 adds + log p(a | s; g_phi2), i.e. maximises the attribute cross-entropy, which is
    unbounded (it rewards driving p(a | s) to 0, i.e. confidently predicting the *other*
    attribute, a new bias). Bounded forms, ``attribute_loss``:
    - ``uniform`` (default): cross-entropy to the uniform distribution minus log A =
      KL(U || p(. | s)) >= 0, zero exactly when the attribute prediction is uniform (does not use a).
      Its gradient in the logits, p - 1/A, stays large while the critic is confident.
    - ``hinge``: relu(log p(a | s) + log A) -- eq. 4's term, cut off once the image's own
      attribute is predicted no more than chance 1/A (value 0 there; it never pushes below). Its
      logit gradient, 1 - p(a | s), vanishes exactly where the critic is sure of the attribute, which
      is where distillation starts (images initialised from real ones).
    The attribute a of a synthetic image is that of the real image it was initialised from
    (``ImageData.attributes``; fixed during distillation). g_phi2 is a classifier of the attribute
    pretrained on the dataset's attribute view ``<dataset>-attr`` (``harness.data.attributes``),
    g_phi1 the label critic of ``ed-critic`` (``critic``). lambda_t multiplies the whole of eq. 4.
    Needs per-image attributes: on a dataset without them it stops with a HarnessError.
    """

    name = "ed-debias"
    Config = DebiasConfig
    smoke_dataset = "colored-mnist-spurious-tiny"

    def prepare(self, data: ImageData, ipc: int, run) -> None:
        from harness.data.attributes import attribute_view

        cfg = self.config
        check_choice("attribute_loss", cfg.attribute_loss, ATTRIBUTE_LOSSES)
        if data.attributes is None:
            raise HarnessError(f"{self.name} needs per-image spurious attributes, and {data.info.name} has none: "
                               f"use a dataset with an attribute (e.g. colored-mnist-spurious, celeba-blond)")
        view = attribute_view(data.info.name)
        super().prepare(data, ipc, run)
        self.attribute_critic = load_critic(view, data, cfg.critic_arch, cfg.critic_seed, run)
        self.syn_attributes = data.attributes[torch.cat(init_picks(data, ipc, run.seed, self.classes))].to(run.device)

    def attribute_terms(self, syn_images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per image: the bounded attribute term (class docstring), log p(a | s) of its own
        attribute, and the attribute critic's log-probabilities ``[N, A]``."""
        log_p = F.log_softmax(self.attribute_critic(syn_images), dim=1)
        log_a = torch.log(torch.tensor(float(log_p.shape[1]), device=log_p.device))
        own = log_p.gather(1, self.syn_attributes.unsqueeze(1)).squeeze(1)
        per_image = F.relu(own + log_a) if self.config.attribute_loss == "hinge" else -log_p.mean(1) - log_a
        return per_image, own, log_p

    def attribute_loss(self, syn_images: torch.Tensor) -> torch.Tensor:
        """sum_c mean_{s in S_c} of the bounded attribute term."""
        return self.attribute_terms(syn_images)[0].sum() / self.ipc

    def extra_meta(self) -> dict:
        """Whether the attribute critic still recognises the final (unaugmented) synthetic images'
        attribute: the mean attribute term, the mean p(a | s), and the share of images whose
        predicted attribute is a; measured on the synthetic set alone, no test data."""
        with torch.no_grad():
            per_image, own, log_p = self.attribute_terms(self.images)
            predicted = log_p.argmax(1)
        return {**super().extra_meta(),
                "attribute_critic_on_final": {"mean_attribute_term": per_image.mean().item(),
                                              "mean_p_own_attribute": own.exp().mean().item(),
                                              "share_predicted_own_attribute":
                                                  (predicted == self.syn_attributes).float().mean().item()}}

    def regulariser(self, batch: MatchBatch) -> torch.Tensor | float:
        label = self.label_critic_loss(batch) if self.critic is not None else 0.0
        attribute = self.config.attribute_weight * self.attribute_loss(batch.syn_images)
        return self.critic_lambda(batch.iteration) * (label + attribute)
