"""Many/medium/few-shot accuracy for long-tailed benchmarks (the usual long-tailed recognition split).

Classes are grouped by their number of images in the long-tailed *training* set: many-shot
> 100, medium-shot 20..100 (both ends included), few-shot < 20. When one of these bins is empty
(e.g. Fashion-MNIST-LT at imbalance 100 keeps 6000..60 images, so no class is few-shot), all
classes are grouped by terciles of class size instead: classes ranked by size (ties by class
index), rank r of C going to group floor(3 r / C), smallest first (10 classes: 4 few, 3
medium, 3 many). A group's accuracy is the mean of its classes' per-class test accuracies (the
test split is balanced, so this is also the accuracy over its test images).
"""

from __future__ import annotations

GROUPS = ("many", "medium", "few")
MANY_ABOVE, FEW_BELOW = 100, 20


def shot_groups(train_counts: list[int]) -> tuple[dict[str, list[int]], str]:
    """Class ids per group and the rule used (``"bins"`` or ``"terciles"``)."""
    bins = {"many": [c for c, n in enumerate(train_counts) if n > MANY_ABOVE],
            "medium": [c for c, n in enumerate(train_counts) if FEW_BELOW <= n <= MANY_ABOVE],
            "few": [c for c, n in enumerate(train_counts) if n < FEW_BELOW]}
    if all(bins.values()):
        return bins, "bins"
    if len(train_counts) < 3:
        raise ValueError(f"need at least 3 classes to form shot groups, got {len(train_counts)}")
    ranked = sorted(range(len(train_counts)), key=lambda c: (train_counts[c], c))
    terciles = {g: [] for g in GROUPS}
    for r, c in enumerate(ranked):
        terciles[("few", "medium", "many")[3 * r // len(ranked)]].append(c)
    return {g: sorted(cs) for g, cs in terciles.items()}, "terciles"


def shot_group_accuracy(per_class_accuracy: list[float], train_counts: list[int]) -> tuple[dict, dict]:
    """(metrics, description): ``{many,medium,few}_shot_accuracy`` in %, and the grouping used
    (rule, class ids per group, training class sizes) to store beside them."""
    if len(per_class_accuracy) != len(train_counts):
        raise ValueError(f"{len(per_class_accuracy)} per-class accuracies for {len(train_counts)} class sizes")
    groups, rule = shot_groups(train_counts)
    metrics = {f"{g}_shot_accuracy": sum(per_class_accuracy[c] for c in groups[g]) / len(groups[g])
               for g in GROUPS}
    return metrics, {"shot_grouping": rule, "shot_groups": groups, "train_class_counts": list(train_counts)}
