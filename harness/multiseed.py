"""Train several seeds of one architecture at once: stacked parameters under ``torch.func.vmap``.

The seeds follow :mod:`harness.train` exactly: seed s's initial weights come from
``init_model(arch, info, s)`` (``torch.manual_seed(mix_seed(s, 0))``) and its batch order and
augmentation from its own generator seeded ``mix_seed(s, 1)``, drawn in the same order as
``train_model``. The parameters of the S models are stacked into ``[S, ...]`` tensors and one
forward/backward of ``functional_call`` under ``vmap`` trains all of them; the loss is the sum
of the per-seed losses, so each slice receives its own seed's gradient. SGD (momentum, weight
decay, MultiStepLR) is elementwise, so one optimiser over the stacked tensors updates every seed
as its own optimiser would. Only floating-point rounding differs from the one-at-a-time path.

Architectures that cannot be vmapped (batch norm updates running statistics in place) train one
model at a time; :func:`can_batch` decides by a one-off probe. :func:`seed_groups` batches only
on CUDA. On the CPU, vmap turns the convolutions into grouped ones and gains nothing, because one
small model is not latency-bound there: measured on this project's 2-core Xeon (AMX), quiet,
2026-11-22, ``python -m harness.bench --only eval-seeds`` (ConvNet, 5 seeds, 10 epochs) gave
0.744 s one at a time vs 0.967 s batched at 10 images (0.77x) and 6.93 s vs 9.60 s at 100
(0.72x). One ConvNet step on 10 MNIST images (~2.2 GFLOP forward and backward) takes 15.6 ms,
~140 GFLOP/s, and a profile at 100 images puts ~45% of a step in memory-bound GroupNorm, ReLU and pooling
kernels: the cores are already busy, so no batching of seeds can halve the time.
"""

from __future__ import annotations

import functools

import torch
import torch.nn as nn
from torch.func import functional_call, stack_module_state, vmap

from harness.augment import mix_seed
from harness.data import DatasetInfo, ImageData
from harness.protocol import EvalProtocol
from harness.train import init_model, make_optimizer, soft_cross_entropy, test_model, train_model


@functools.lru_cache(maxsize=None)
def _probe(arch: str, info: DatasetInfo, device_str: str) -> bool:
    device = torch.device(device_str)
    models = [init_model(arch, info, s, device) for s in (0, 1)]
    if any(True for _ in models[0].buffers()):
        return False  # running statistics (batch norm) are updated in place: not vmappable
    params, _ = stack_module_state(models)
    x = torch.zeros(2, 2, *info.image_shape, device=device)
    y = torch.zeros(2, 2, dtype=torch.long, device=device)
    try:
        loss = vmap(functools.partial(_loss, models[0]))(params, {}, x, y).sum()
        loss.backward()
    except (RuntimeError, NotImplementedError):
        return False
    return True


def can_batch(arch: str, info: DatasetInfo, device) -> bool:
    """Whether seeds of ``arch`` can train together (cached per architecture, shape and device)."""
    return _probe(arch, info, str(torch.device(device)))


def _loss(base: nn.Module, params: dict, buffers: dict, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    return soft_cross_entropy(functional_call(base, (params, buffers), (x,)), y)


def train_seeds(arch: str, images: torch.Tensor, targets: torch.Tensor, info: DatasetInfo,
                protocol: EvalProtocol, seeds: list[int], device, progress=None) -> list[nn.Module]:
    """Train one model per seed together (see module docstring); returns the trained models."""
    device = torch.device(device)
    models = [init_model(arch, info, s, device) for s in seeds]
    stacked, buffers = stack_module_state(models)
    names = list(stacked)
    holder = nn.ParameterList(nn.Parameter(stacked[k]) for k in names)
    images, targets = images.to(device), targets.to(device)
    gens = [torch.Generator().manual_seed(mix_seed(s, 1)) for s in seeds]
    n = len(images)
    steps = -(-n // protocol.batch_size)
    opt, sched = make_optimizer(holder, protocol, steps)
    base = models[0].train()
    batched_loss = vmap(functools.partial(_loss, base))
    for _ in range(protocol.epochs):
        orders = [torch.randperm(n, generator=g).to(device).split(protocol.batch_size) for g in gens]
        for step in range(steps):
            xs = [images[order[step]] for order in orders]
            if protocol.augmentation is not None:
                xs = [protocol.augmentation.apply(x, g) for x, g in zip(xs, gens)]
            ys = torch.stack([targets[order[step]] for order in orders])
            loss = batched_loss(dict(zip(names, holder)), buffers, torch.stack(xs), ys).sum()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if progress is not None:
            progress.update(len(seeds))
    with torch.no_grad():
        for i, model in enumerate(models):
            for name, p in model.named_parameters():
                p.copy_(holder[names.index(name)][i])
    return models


def train_and_test_seeds(arch: str, images: torch.Tensor, targets: torch.Tensor, test: ImageData,
                         protocol: EvalProtocol, seeds: list[int], device="cpu", progress=None) -> list[dict]:
    """Metrics per seed (``test_model``); batched when possible, else one model at a time."""
    if len(seeds) > 1 and protocol.cutmix_p == 0 and not protocol.hard_epochs and can_batch(arch, test.info, device):
        models = train_seeds(arch, images, targets, test.info, protocol, seeds, device, progress)
    else:
        models = [train_model(init_model(arch, test.info, s, device), images, targets, protocol, s, progress)
                  for s in seeds]
    return [test_model(m, test) for m in models]


def seed_groups(arch: str, info: DatasetInfo, seeds: list[int], device) -> list[list[int]]:
    """How to schedule ``seeds``: together on CUDA when ``arch`` batches, else one group per seed."""
    if len(seeds) > 1 and torch.device(device).type == "cuda" and can_batch(arch, info, device):
        return [list(seeds)]
    return [[s] for s in seeds]
