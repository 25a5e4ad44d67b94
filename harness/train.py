"""Train a fresh model on a (synthetic) set and test it on real data, under an EvalProtocol.

Seeding rule (shared by every path that trains models): the model's initial weights come from
``torch.manual_seed(mix_seed(seed, 0))``; mini-batch order and augmentation draws come from a
generator seeded with ``mix_seed(seed, 1)``. The test split is scored once, after the last epoch.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from harness.augment import cutmix, mix_seed
from harness.data import ImageData
from harness.models import build_model
from harness.protocol import EvalProtocol
from harness.speed import training_forward


def init_model(arch: str, info, seed: int, device) -> nn.Module:
    torch.manual_seed(mix_seed(seed, 0))
    return build_model(arch, info.channels, info.num_classes, info.size).to(device)


def soft_cross_entropy(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against class indices or against probability vectors (soft labels)."""
    if target.dtype.is_floating_point:
        return -(target * F.log_softmax(logits, dim=1)).sum(1).mean()
    return F.cross_entropy(logits, target)


def make_optimizer(model: nn.Module, protocol: EvalProtocol, steps_per_epoch: int):
    if protocol.optimizer == "adamw":
        opt = torch.optim.AdamW(model.parameters(), lr=protocol.lr, weight_decay=protocol.weight_decay)
    elif protocol.optimizer == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=protocol.lr, momentum=protocol.momentum,
                              weight_decay=protocol.weight_decay)
    else:
        raise ValueError(f"unsupported optimizer '{protocol.optimizer}'")
    milestones = [int(f * protocol.epochs) * steps_per_epoch for f in protocol.lr_milestones]
    sched = torch.optim.lr_scheduler.MultiStepLR(opt, milestones=milestones, gamma=protocol.lr_gamma)
    return opt, sched


def train_model(model: nn.Module, images: torch.Tensor, targets: torch.Tensor, protocol: EvalProtocol,
                seed: int, progress=None, one_off_graph: bool = False) -> nn.Module:
    """Train ``model`` on normalised ``images`` (targets: indices or soft labels) for the protocol.

    ``one_off_graph``: the model's architecture is trained once in this process (a NAS cell), so it
    is never compiled: a compile costs more than it saves there (measured in :mod:`harness.speed`)."""
    device = next(model.parameters()).device
    images, targets = images.to(device), targets.to(device)
    gen = torch.Generator().manual_seed(mix_seed(seed, 1))
    n = len(images)
    steps = -(-n // protocol.batch_size)
    opt, sched = make_optimizer(model, protocol, steps)
    model.train()
    forward = model if one_off_graph else training_forward(model, steps * protocol.epochs)
    hard = targets.argmax(1) if protocol.hard_epochs else targets  # soft-corrected: each row's argmax is its label
    for epoch in range(protocol.epochs):
        epoch_targets = hard if epoch >= protocol.epochs - protocol.hard_epochs else targets
        order = torch.randperm(n, generator=gen).to(device)
        for batch in order.split(protocol.batch_size):
            x = images[batch]
            if protocol.augmentation is not None:
                x = protocol.augmentation.apply(x, gen)
            y = epoch_targets[batch]
            if protocol.cutmix_p > 0 and torch.rand(1, generator=gen).item() < protocol.cutmix_p:
                x, perm, ratio = cutmix(x, protocol.cutmix_beta, gen)
                out = forward(x)
                loss = ratio * soft_cross_entropy(out, y) + (1 - ratio) * soft_cross_entropy(out, y[perm])
            else:
                loss = soft_cross_entropy(forward(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress.update(1)
    return model


# Test images per no-grad forward: 5,000 MNIST-shaped images through the ConvNet took 20.7 s in
# chunks of 512 channels_last against 30.9 s in chunks of 1,000 NCHW (medians of 3 interleaved
# rounds, 2-core AMD EPYC, shared, 2026-12-04).
TEST_CHUNK = 512


@torch.no_grad()
def predict(model: nn.Module, data: ImageData, batch_size: int = TEST_CHUNK) -> torch.Tensor:
    """Predicted classes (CPU int64 ``[N]``) of a real split, in eval mode, chunk by chunk, run
    channels_last (the model is returned to the default layout afterwards)."""
    device = next(model.parameters()).device
    model.eval().to(memory_format=torch.channels_last)
    try:
        preds = [model(data.normalised(index, device).contiguous(memory_format=torch.channels_last)).argmax(1).cpu()
                 for index in torch.arange(len(data)).split(batch_size)]
    finally:
        model.to(memory_format=torch.contiguous_format)
    return torch.cat(preds)


def test_model(model: nn.Module, test: ImageData, batch_size: int = TEST_CHUNK) -> dict:
    """Accuracy and per-class accuracy (in %) on a real split."""
    correct = (predict(model, test, batch_size) == test.labels).float()
    per_class = torch.zeros(test.info.num_classes).index_add_(0, test.labels, correct)
    counts = torch.bincount(test.labels, minlength=test.info.num_classes).clamp(min=1)
    return {
        "accuracy": 100.0 * correct.mean().item(),
        "per_class_accuracy": (100.0 * per_class / counts).tolist(),
    }


def train_and_test(arch: str, images: torch.Tensor, targets: torch.Tensor, test: ImageData,
                   protocol: EvalProtocol, seed: int, device="cpu", progress=None) -> dict:
    model = init_model(arch, test.info, seed, device)
    train_model(model, images, targets, protocol, seed, progress)
    return test_model(model, test)
