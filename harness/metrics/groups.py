"""Group-robustness metrics over (label, attribute) groups (paper sec. 6.8: average and worst group).

``accuracy`` is the plain test accuracy (every test image counts once, the paper's "average");
``group_accuracy`` maps ``"label=a,attr=b"`` to that group's accuracy; ``worst_group_accuracy`` is
its minimum. Groups absent from the split are left out. All in %.
"""

from __future__ import annotations

import torch


def group_key(label: int, attribute: int) -> str:
    return f"label={label},attr={attribute}"


def group_metrics(predictions: torch.Tensor, labels: torch.Tensor, attributes: torch.Tensor,
                  num_attributes: int | None = None) -> dict:
    """Accuracy, worst-group accuracy, and per-group accuracy and size, from predicted classes."""
    if not (len(predictions) == len(labels) == len(attributes)) or len(labels) == 0:
        raise ValueError(f"need equal, non-zero lengths: {len(predictions)} predictions, {len(labels)} labels, "
                         f"{len(attributes)} attributes")
    num_attributes = num_attributes or int(attributes.max()) + 1
    group = labels.long() * num_attributes + attributes.long()
    correct = (predictions.cpu() == labels.cpu()).double()
    size = torch.bincount(group.cpu())
    hits = torch.zeros(len(size), dtype=torch.float64).index_add_(0, group.cpu(), correct)
    keys = {g: group_key(g // num_attributes, g % num_attributes) for g in torch.nonzero(size).squeeze(1).tolist()}
    per_group = {key: 100.0 * (hits[g] / size[g]).item() for g, key in keys.items()}
    return {
        "accuracy": 100.0 * correct.mean().item(),
        "worst_group_accuracy": min(per_group.values()),
        "group_accuracy": per_group,
        "group_size": {key: int(size[g]) for g, key in keys.items()},
    }
