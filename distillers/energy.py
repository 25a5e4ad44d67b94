"""Class-preserving distribution matching with the energy distance (Guo et al., TMLR; the paper in
``shared/papers/class-preserving-dm-energy-distance.txt``).

Registered names (one class, :class:`EnergyMatching`; ``ed-debias`` lives in :mod:`distillers.ed_debias`):

* ``ed`` -- per class c, the energy distance (eq. 6) between the embeddings of a real batch and
  of the synthetic images of c, under a fresh random ConvNet per iteration and DSA shared by the
  real and synthetic images of a class (DM's structure, :mod:`distillers._random_matching`):
      loss = sum_c 2 E|f(x) - f(s)| - E|f(s) - f(s')|        (the real-real term has no gradient
  and is skipped; the full value, real term included, is logged every ``diagnostic_every``
  iterations into the manifest's ``energy_distance_trace``).
* ``ed-critic`` -- eq. 7 / algorithm 1: ED + lambda_t * sum_c E_{s in S_c} [-log p(y_c | s; g_phi)]
  with g_phi a frozen classifier pretrained on the real training split (``harness.pretrained``,
  cached), lambda_t = critic_weight * (maxiter - t) / maxiter (t = 0..maxiter-1) by default or
  the constant ``critic_weight`` (``critic_schedule=constant``; table 5). ``critic=kl`` is
  table 4's knowledge-distillation critic: KL(p_phi(y | x_i) || p_phi(y | s_i)) with one real
  image x_i of the class per synthetic image s_i (the real batch cut to IPC images, as the paper
  says), instead of the cross-entropy with the true label.
* ``cfd-ed`` -- sec. 5.1, eq. 10-11: eq. 7 with its first term (the energy distance) replaced by
  the CFD-enhanced energy distance, the classifier critic kept as in ``ed-critic``: the per-pair
  distance is C(a, b) = E_t |Phi_a(t) - Phi_b(t)| = E_t |exp(i<t, a>) - exp(i<t, b>)| =
  E_t 2|sin(<t, a - b>/2)| between the two points' embeddings (the characteristic function of a
  single point a is exp(i<t, a>)), the expectation a Monte Carlo mean over ``num_freqs`` frequencies.
  It runs in DM's random-network loop below (a fresh random ConvNet per iteration, SGD on the
  images, fixed Gaussian frequencies), NOT in the pipeline the paper's CFD-ED numbers came from:
  its table 1 row "NCFM + OURS" (sec. 6.1: "we use their official code") ran inside the NCFM
  authors' code (pretrained extractor, multi-formation, AdamW). The manifest says so (``pipeline``).
* ``ed-debias`` -- a de-biasing critic (eq. 4): ED + lambda_t * (label cross-entropy of g_phi1 +
  attribute term of g_phi2), see :class:`distillers.ed_debias.DebiasedEnergyMatching`.

Choices the paper leaves open, made here:
- Distance: plain Euclidean distance between raw embeddings f(x) (eq. 6 "following DM");
  ``normalise_features=true`` L2-normalises them first (default for ``cfd-ed``, as NCFM does).
- Optimiser: SGD with momentum 0.5 as DM's code; image learning rate 0.1 (table 10, CIFAR at
  IPC <= 50; 1 for IPC 100-200). Real batch 256 per class (DM's value; table 11 uses 512 on
  CIFAR-10). Iterations 20000 (DM's budget; the paper uses 40000).
- The loss sums classes (algorithm 1); the critic term is the per-class mean over the class's
  synthetic images, summed over classes, and is applied to the DSA-augmented synthetic images
  that the random network sees (the paper does not say; augmented inputs keep the critic's
  gradient from being a pixel-level adversarial perturbation of one fixed view).
- The critic is one classifier per dataset (network ``critic_seed`` of the recipe, default 0,
  whatever the distillation seed), trained by the pretraining recipe ``critic_pretrain``
  (:data:`harness.pretrained.PRESETS`) on the training split of ``data.info.name`` (a class-subset
  run still uses it unless ``pretrain_classes`` restricts it, e.g. to the classes seen so far in
  continual learning), architecture ``critic_arch``. The default, ``cpu-2epoch``, is a CPU
  stand-in (2 epochs, no augmentation); ``critic_pretrain=ed-paper`` is the paper's table 12
  recipe (1000 epochs). The recipe, its fingerprint and the critic's test accuracy are in the
  manifest (``critic_pretraining``).
- ``cfd-ed`` frequencies: t ~ N(0, freq_scale^-2 I), drawn fresh each iteration from
  (seed, iteration) alone and shared by all classes: eq. 11's psi fixed, which the paper allows
  ("learnable or fixed random variables"). A learnt psi (``distillers/ncfm.py``'s samplers) is not
  wired in: it would need NCFM's min-max loop (a psi optimiser and its checkpoint state) here.
- The V-statistic (i = j pairs included) estimate, as eq. 6 writes the sums over all i, j.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import torch
import torch.nn.functional as F

from distillers._base import register_distiller
from distillers._discrepancy import energy_distance, euclidean_distances, sample_gaussian_frequencies
from distillers._random_matching import MatchBatch, MatchingConfig, RandomNetworkMatching
from distillers._settings import Arch, ClassIds, Count, Natural, NonNegative, OneOf, Positive, Preset, Seed
from harness.augment import mix_seed
from harness.data import ImageData

# cfd-ed's manifest entry ``pipeline``: which loop made the set, against the one the paper's row ran in.
CFD_ED_PIPELINE = ("DM's random-network loop (a fresh random ConvNet per iteration, SGD on the images, fixed "
                   "Gaussian frequencies); the energy-distance paper's CFD-ED numbers (table 1, 'NCFM + OURS', "
                   "sec. 5.1 / 6.1) ran inside the NCFM authors' code (pretrained extractor, multi-formation, "
                   "AdamW), so this set is not made by that row's pipeline")
CRITICS = ("none", "classifier", "kl")
SCHEDULES = ("linear", "constant")
DISTANCES = ("euclidean", "cf")


@dataclass(frozen=True)
class EnergyConfig(MatchingConfig):
    iterations: Natural = 20000  # the published budget (real_batch keeps the default 256 per class)
    lr_images: Positive = 0.1
    distance: Annotated[str, OneOf(DISTANCES)] = "euclidean"  # or "cf" (eq. 10-11)
    num_freqs: Count = 128  # cf only
    freq_scale: Positive = 1.0  # cf only: t ~ N(0, freq_scale^-2 I)
    normalise_features: bool = False
    critic: Annotated[str, OneOf(CRITICS)] = "none"  # none | classifier (eq. 3/7) | kl (table 4)
    critic_weight: NonNegative = 1.0
    critic_schedule: Annotated[str, OneOf(SCHEDULES)] = "linear"  # linear: weight * (maxiter - t) / maxiter; constant: weight
    critic_arch: Arch = "convnet"
    critic_seed: Seed = 0
    critic_pretrain: Preset = "cpu-2epoch"  # pretraining recipe of the critic(s) (harness.pretrained.PRESETS)
    critic_pretrain_images: Natural = 0  # > 0: the critic sees a seeded subset of this size (a CPU budget)
    pretrain_classes: ClassIds = ()  # () = the critics see every class; else only these (the classes seen so far)
    diagnostic_every: Natural = 100  # full energy distance (real term included) into the manifest; 0 = never


def critic_lambda(iteration: int, iterations: int, weight: float = 1.0, schedule: str = "linear") -> float:
    """lambda_t of eq. 7: weight * (maxiter - t) / maxiter (t = 0..maxiter-1), or the constant weight."""
    return weight * (iterations - iteration) / iterations if schedule == "linear" else weight


def cf_pair_distances(t: torch.Tensor):
    """The per-pair characteristic-function distance of eq. 11 over frequencies t [k, d]:
    C(a_i, b_j) = mean_t |exp(i<t, a_i>) - exp(i<t, b_j>)| = mean_t 2 |sin(<t, a_i - b_j> / 2)|,
    as a ``distance(a, b) -> [..., n, m]`` for ``energy_distance``. Memory O(n m k) per batch entry."""

    def distance(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        pa, pb = a @ t.T, b @ t.T
        return 2 * ((pa.unsqueeze(-2) - pb.unsqueeze(-3)) / 2).sin().abs().mean(-1)

    return distance


def load_critic(dataset: str, data: ImageData, arch: str, seed: int, run, recipe: str = "cpu-2epoch",
                images: int = 0, classes: tuple[int, ...] = ()) -> tuple[torch.nn.Module, dict]:
    """A frozen classifier of ``dataset``'s labels pretrained on its real training split by the
    preset ``recipe`` (cached; the images of ``classes`` only when given), and its manifest entry
    (recipe, fingerprint, classes, test accuracy)."""
    from harness.pretrained import get_recipe, pretrained_model, pretrained_summary

    made = get_recipe(recipe, models=1, images=images or -1, classes=classes)
    model = pretrained_model(dataset, arch, seed, device=run.device, recipe=made, imbalance=data.info.imbalance,
                             log=run.log)
    return model, pretrained_summary(dataset, arch, made, [seed], data.info.imbalance)


@register_distiller("ed")
@register_distiller("ed-critic", critic="classifier")
@register_distiller("cfd-ed", distance="cf", normalise_features=True, critic="classifier")
class EnergyMatching(RandomNetworkMatching):
    name = "ed"
    Config = EnergyConfig
    smoke_settings = {"iterations": 2, "real_batch": 8, "num_freqs": 16, "diagnostic_every": 1}

    def prepare(self, data: ImageData, ipc: int, run) -> None:
        cfg = self.config
        self.critic, self.critic_meta = None, None
        if cfg.critic != "none":
            self.critic, self.critic_meta = load_critic(data.info.name, data, cfg.critic_arch, cfg.critic_seed, run,
                                                        cfg.critic_pretrain, cfg.critic_pretrain_images,
                                                        self.pretraining_classes(data))
        self.trace: list[tuple[int, float]] = []

    def uses_pretrained(self) -> bool:
        return self.config.critic != "none"

    def extra_meta(self) -> dict:
        meta = {"energy_distance_trace": self.trace}
        if self.config.distance == "cf":
            meta["pipeline"] = CFD_ED_PIPELINE
        if self.critic_meta is not None:
            meta["critic_pretraining"] = self.critic_meta
        return meta

    def features(self, z: torch.Tensor) -> torch.Tensor:
        return F.normalize(z, dim=-1) if self.config.normalise_features else z

    def distance(self, iteration: int, dim: int):
        if self.config.distance == "euclidean":
            return euclidean_distances
        gen = torch.Generator().manual_seed(mix_seed(self.run.seed, iteration, -4))
        t = sample_gaussian_frequencies(self.config.num_freqs, dim, self.config.freq_scale, generator=gen)
        return cf_pair_distances(t.to(self.run.device))

    def energy(self, real: torch.Tensor, weights: torch.Tensor, syn: torch.Tensor, iteration: int) -> torch.Tensor:
        """Per-class energy distance without the real-real term ``[C]``; every ``diagnostic_every``
        iterations the full value (summed over classes) goes to ``energy_distance_trace``."""
        distance = self.distance(iteration, syn.shape[-1])
        every = self.config.diagnostic_every
        if every and iteration % every == 0:
            with torch.no_grad():
                full = energy_distance(real, syn, True, weights, distance).sum().item()
            self.trace.append((iteration, full))
        return energy_distance(real, syn, include_real_term=False, x_weights=weights, distance=distance)

    def class_loss(self, real: torch.Tensor, weights: torch.Tensor, syn: torch.Tensor, iteration: int) -> torch.Tensor:
        return self.energy(real, weights, syn, iteration)

    def critic_lambda(self, iteration: int) -> float:
        cfg = self.config
        return critic_lambda(iteration, cfg.iterations, cfg.critic_weight, cfg.critic_schedule)

    def label_critic_loss(self, batch: MatchBatch) -> torch.Tensor:
        """sum_c mean_{s in S_c} of the critic term: cross-entropy with the class label (eq. 3), or
        (``critic=kl``) KL from the critic's prediction on a paired real image of the class."""
        logits = self.critic(batch.syn_images)
        if self.config.critic == "classifier":
            return F.cross_entropy(logits, self.labels, reduction="sum") / self.ipc
        with torch.no_grad():
            rows, group = paired_real_rows(batch.group.to(logits.device), len(self.classes), self.ipc)
            real = batch.augment(self.data.normalised(batch.index[rows.cpu()], self.run.device), group)
            target = F.log_softmax(self.critic(real), dim=1)
        return F.kl_div(F.log_softmax(logits, dim=1), target, log_target=True, reduction="sum") / self.ipc

    def regulariser(self, batch: MatchBatch) -> torch.Tensor | float:
        if self.critic is None:
            return 0.0
        return self.critic_lambda(batch.iteration) * self.label_critic_loss(batch)


def paired_real_rows(group: torch.Tensor, num_groups: int, ipc: int) -> tuple[torch.Tensor, torch.Tensor]:
    """For each class position p and j = 0..ipc-1, the row of the (sorted) real batch paired with
    synthetic image j of p: the class's j-th real row, cycling when it has fewer than ``ipc``.
    Returns (rows ``[num_groups * ipc]``, their class positions), in the synthetic set's order."""
    counts = torch.bincount(group, minlength=num_groups)
    starts = torch.cumsum(counts, 0) - counts
    j = torch.arange(ipc, device=group.device)
    rows = (starts.unsqueeze(1) + j.unsqueeze(0) % counts.clamp(min=1).unsqueeze(1)).flatten()
    return rows, torch.arange(num_groups, device=group.device).repeat_interleave(ipc)
