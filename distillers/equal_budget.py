"""Equal-budget controls for multi-formation sets (NCFM sec. 5.1, CSDM): random real images, no
distillation, at the budget a multi-formation set spends.

A multi-formation set stores IPC images per class and decodes each into rho^2 full-size training
images (:mod:`distillers._formation`), so it is compared with two named controls besides
``random`` (IPC real images per class, the equal stored count):

* ``random-packed`` -- equal storage through the same parametrisation: rho^2 random real images
  per stored image, downsized into its rho x rho grid and decoded as NCFM/CSDM decode theirs.
  This is exactly the initialisation of ``ncfm``/``csdm`` at the same seed
  (:func:`distillers._formation.init_stored`), i.e. the parametrisation without the distillation.
* ``random-decoded`` -- equal decoded count: rho^2 x IPC random full-size real images per class,
  the same real images ``random-packed`` downsizes (:func:`distillers._matching.init_picks`), so
  the two differ only by the packing. Its storage is rho^2 times the budget; ``ipc`` in its
  manifest names the multi-formation budget it is matched to, ``images_per_class`` what it holds.

``multi_formation`` (rho) should be the compared set's (2, NCFM's and CSDM's default; the
harness's choice of matching it is recorded in the manifest). Both manifests say how many
training images they decode per class (``images_per_class``). Each seed draws its own subset:
evaluate seed s on the set drawn with seed s (as the transfer task does).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from distillers._base import Distiller, DistillerConfig, RunContext, present_classes, register_distiller
from distillers._formation import decoded_set, formation_meta, init_stored
from distillers._matching import init_picks
from distillers._settings import Count
from harness.data import ImageData
from harness.errors import HarnessError
from harness.synset import SyntheticSet


@dataclass(frozen=True)
class EqualBudgetConfig(DistillerConfig):
    multi_formation: Count = 2  # rho of the multi-formation set this control is matched to


class _EqualBudget(Distiller):
    Config = EqualBudgetConfig

    def factor(self) -> int:
        if self.config.multi_formation < 1:
            raise HarnessError(f"multi_formation must be at least 1, got {self.config.multi_formation}")
        return self.config.multi_formation


@register_distiller("random-packed")
class RandomPacked(_EqualBudget):
    """IPC stored images per class, each tiling rho^2 downsized random real images; the artifact
    holds their decodings (rho^2 x IPC per class). A class with fewer than rho^2 x IPC images
    repeats them with fresh DSA draws, as NCFM's initialisation does (``check_ipc`` warns)."""

    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        factor = self.factor()
        warnings = self.check_ipc(data, ipc) + self.check_init(data, ipc)
        for w in warnings:
            run.log(f"warning: {w}")
        stored, labels = init_stored(data, ipc, factor, run.seed, run.device, present_classes(data))
        images, labels = decoded_set(stored, labels, factor)
        return self.synset(images, labels, data, ipc, run, warnings, **formation_meta(ipc, factor))


@register_distiller("random-decoded")
class RandomDecoded(_EqualBudget):
    """rho^2 x IPC random full-size real images per class (the ones ``random-packed`` packs)."""

    selects_real_images = True

    def distil(self, data: ImageData, ipc: int, run: RunContext) -> SyntheticSet:
        factor = self.factor()
        self.check_ipc(data, ipc)
        self.check_init(data, ipc)
        classes = present_classes(data)
        per_class = ipc * factor**2
        index = torch.cat(init_picks(data, per_class, run.seed, classes))
        return self.synset(data.normalised(index), data.labels[index], data, ipc, run,
                           images_per_class=per_class, equal_count_formation=factor,
                           images_note=f"{per_class} full-size real images per class: the decoded count of "
                                       f"a multi-formation (rho={factor}) set of ipc {ipc}; storage is "
                                       f"{factor**2}x that set's")


def equal_budget_controls(synset: SyntheticSet) -> list[tuple[str, dict, str]]:
    """(distiller, settings, what it holds equal) of the controls ``synset`` is compared with:
    ``random`` (the stored count) and, for a multi-formation set, ``random-packed`` (storage) and
    ``random-decoded`` (decoded count), matched to its rho."""
    return budget_controls(int(synset.meta.get("multi_formation", 1)), synset.ipc)


def budget_controls(rho: int, ipc: int) -> list[tuple[str, dict, str]]:
    """:func:`equal_budget_controls` of a set of ``ipc`` stored images per class and multi-formation
    factor ``rho`` (e.g. from a distiller's config, before it has distilled)."""
    out = [("random", {}, f"stored count: {ipc} real images per class")]
    if rho > 1:
        out += [("random-packed", {"multi_formation": rho},
                 f"storage: {ipc} stored images per class, {rho}x{rho} downsized real images each"),
                ("random-decoded", {"multi_formation": rho}, f"decoded count: {ipc * rho**2} real images per class")]
    return out

