"""Cross-architecture transfer: train several architectures on a distilled set, beside the
same-size random real subset under the same protocol and seeds.

For each architecture and evaluation seed s, a fresh model is trained on the distilled set and
another on the random subset (``random`` distiller, same IPC, same distillation seed), both with
seed s, and tested once after the final epoch on the real test split. One record per (set,
architecture, seed) in ``<output>/records/transfer.jsonl``; finished cells are skipped on rerun.
The gain over random is the paired (same seed) difference, with a Student-t 95% interval.

A profile fixes the evaluation protocol, the distillation budget and the default architectures
(see :data:`PROFILES`).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from distillers._base import settings_it_has
from distillers._runner import distil
from harness.data import DEFAULT_DATASET
from harness.errors import HarnessError
from harness.evaluation import evaluate_synset, read_synset
from harness.protocol import PROTOCOLS, EvalProtocol
from harness.records import RecordStore, records_path
from harness.registry import Registry

TASK = "transfer"
BASELINE = "random"


@dataclass(frozen=True)
class Profile:
    """An evaluation protocol, a distillation budget (applied to the settings a distiller has) and
    the default architectures."""

    protocol: EvalProtocol
    distill_budget: tuple[tuple[str, int], ...]
    archs: tuple[str, ...]


PROFILES: Registry[Profile] = Registry("profile", {
    # CPU, under 10 minutes on 2 cores for MNIST IPC 10, 3 seeds: the published recipe (SGD lr
    # 0.01, momentum 0.9, wd 5e-4, batch 256, DSA) cut to 50 epochs with lr x0.1 at epoch 25;
    # 100 distillation iterations with 32 real images per class, one network pretrained on 10,000
    # training images for NCFM/CSDM's hybrid extractor; ConvNet and the MLP. The unnormalised
    # AlexNet and LeNet stay near chance after 50 steps (dm, MNIST IPC 10: 12.6% and 23.5%), so
    # they need ``paper``.
    "quick": Profile(PROTOCOLS["quick"].with_overrides(name="transfer-quick", epochs=50),
                     (("iterations", 100), ("real_batch", 32), ("pretrained", 1), ("pretrain_images", 10000)),
                     ("convnet", "mlp")),
    # GPU: the published protocol (1000 epochs, lr x0.1 at 500) and each distiller's own
    # (published) budget, e.g. DM 20000 iterations with 256 real images per class; the MLP and
    # the five architectures of the transfer tables.
    "paper": Profile(PROTOCOLS["paper"], (), ("convnet", "mlp", "alexnet", "vgg11", "resnet18", "vit")),
    # Tests and smoke runs only: 5 epochs, 2 distillation iterations of 8 real images per class.
    "smoke": Profile(PROTOCOLS["smoke"], (("iterations", 2), ("real_batch", 8)), ("convnet",)),
})


@dataclass(frozen=True)
class TransferConfig:
    distiller: str = "dm"
    synset: str | None = None  # an artifact path instead of distilling (dataset and IPC from it)
    dataset: str = DEFAULT_DATASET
    ipc: int = 10
    archs: tuple[str, ...] = PROFILES["quick"].archs
    seeds: int = 3
    protocol: EvalProtocol = PROFILES["quick"].protocol
    distill_budget: tuple[tuple[str, int], ...] = PROFILES["quick"].distill_budget
    distill_seed: int = 0
    device: str = "cpu"
    progress: bool = True


def run(config: TransferConfig, store: RecordStore | None = None, log=print) -> list[dict]:
    """Distil (or reuse) the set and its random baseline, evaluate every missing (set, arch, seed)
    cell; returns the records of all of them."""
    if config.seeds < 1:
        raise HarnessError(f"--seeds must be at least 1, got {config.seeds}")
    store = store or RecordStore(records_path(TASK))
    device = torch.device(config.device)
    if config.synset is not None:
        path = Path(config.synset)
    else:
        path = distil(config.distiller, config.dataset, config.ipc, config.distill_seed,
                      settings_it_has(config.distiller, config.distill_budget), device, progress=config.progress,
                      log=log)
    synset, _ = read_synset(path, config.dataset)
    paths = [path]
    if synset.meta.get("distiller") != BASELINE:  # the same-size random subset of the same dataset
        paths.append(distil(BASELINE, synset.info.name, synset.ipc, config.distill_seed,
                            settings_it_has(BASELINE, config.distill_budget), device, progress=config.progress,
                            log=log))
    records = {}
    for p in paths:
        s, sha = read_synset(p, synset.info.name)
        log(f"transfer: evaluating {s.meta.get('distiller')} ({p.name}) on {', '.join(config.archs)}, "
            f"{config.seeds} seeds, protocol {config.protocol.name} ({config.protocol.for_dataset(s.info).fingerprint()})")
        for r in evaluate_synset(s, sha, list(config.archs), list(range(config.seeds)), config.protocol, store,
                                 device, task=TASK, progress=config.progress):
            records[r["key"]] = r
    return list(records.values())
