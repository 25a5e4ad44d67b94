"""Ground-truth accuracies of NAS-Bench-201 cells, behind one interface (``GroundTruth``), and the
two the harness measures itself (the published tables are in :mod:`tasks.nas.sources`):

- ``MeasuredGroundTruth(dataset, budget)``: for datasets no table covers, each cell trained on the
  real training set under a stated ``MeasuredBudget`` and scored once on the test split after its
  final epoch; cached as JSON per (dataset, budget fingerprint, cell) so each cell is paid once.
- ``ShippedGroundTruth(dataset)``: such a measurement, made with two seeds by
  ``python -m harness nas-truth`` and shipped in the package (``tasks/nas/data/<dataset>.json``),
  so the expensive part is not repeated offline; its checksum and budget are verified on load.

Accuracies are percentages (0-100), as in both sources.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.augment import mix_seed
from harness.checkpoint import atomic_write_text
from harness.data import DatasetInfo, load_dataset
from harness.errors import HarnessError
from harness.paths import cache_dir
from harness.protocol import EvalProtocol, identity_fields
from harness.provenance import environment, measure
from harness.registry import Registry
from harness.train import test_model, train_model
from tasks.nas.nb201 import OPS, NB201Network, arch_to_string, parse_arch


class GroundTruth(ABC):
    """A source of per-cell accuracies."""

    @abstractmethod
    def accuracy(self, arch_str: str) -> float:
        """The accuracy (%) of the cell ``arch_str``."""

    @abstractmethod
    def describe(self) -> dict:
        """Where the numbers come from: at least ``source``, ``dataset`` and ``metric``."""

    def prepare(self, archs: list[str]) -> None:
        """Make ``accuracy`` cheap for every cell in ``archs`` (a measured source trains them here)."""

    def replicate(self) -> "GroundTruth | None":
        """The same measurement repeated with another seed, or None where there is none (a table):
        how well it ranks the cells against this one is the ceiling no proxy can be trusted above."""
        return None

    def fingerprint(self) -> str:
        """A short hash of ``describe()``: numbers from different sources are never mixed."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()[:12]


def budget_fingerprint(budget: dict) -> str:
    """A short hash of a protocol's fields (as :meth:`NB201Protocol.as_dict` gives them), names left out."""
    body = json.loads(json.dumps(budget))
    del body["name"]
    body["training"] = identity_fields(body["training"])
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]


@dataclass(frozen=True)
class NB201Protocol:
    """How an NB201 cell network is trained: the skeleton (C channels, N cells per stage) and the
    training recipe. The fingerprint covers every field except the names."""

    name: str
    C: int
    N: int
    training: EvalProtocol

    def as_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self) -> str:
        return budget_fingerprint(self.as_dict())

    def build(self, arch_str: str, info: DatasetInfo, seed: int, device) -> NB201Network:
        """A fresh network, weights from ``torch.manual_seed(mix_seed(seed, 0))`` (``harness.train``'s rule)."""
        torch.manual_seed(mix_seed(seed, 0))
        return NB201Network(arch_str, info.channels, info.num_classes, C=self.C, N=self.N).to(device)


@dataclass(frozen=True)
class MeasuredBudget(NB201Protocol):
    """A measured ground truth's budget: trained on ``train_fraction`` of the real training split
    (a seeded sample, the same for every cell; 1.0 = all of it) with seed ``seed``."""

    train_fraction: float = 1.0
    seed: int = 0


_GT_TRAINING = EvalProtocol(name="nb201-measured", epochs=1, lr=0.05, batch_size=32, lr_milestones=(),
                            augmentation=None)
MEASURED_BUDGETS: Registry[MeasuredBudget] = Registry("ground-truth budget", {
    # The full real training split, 2 epochs (lr 0.05 then 0.005), NB201 skeleton at C=16, N=1.
    "full": MeasuredBudget("nb201-measured-full", C=16, N=1,
                           training=EvalProtocol(name="nb201-measured", epochs=2, lr=0.05, batch_size=128,
                                                 augmentation=None)),
    # A shared 2-core CPU: C=4, N=1, one pass over a seeded 20% of the training split (batch 32, lr 0.05).
    # Measured on Fashion-MNIST, 100 cells: seed 0 vs seed 1 Spearman -0.02 (bootstrap 95% -0.19..0.18),
    # the final iterate at a constant lr 0.05 is noise (mean |difference| between seeds 13.6 points).
    "cpu": MeasuredBudget("nb201-measured-cpu", C=4, N=1, training=_GT_TRAINING, train_fraction=0.2),
    # The same compute (two passes over a seeded 10%) with the lr cut x0.1 for the second pass.
    "cpu-decay": MeasuredBudget("nb201-measured-cpu-decay", C=4, N=1, train_fraction=0.1,
                                training=replace(_GT_TRAINING, epochs=2, lr_milestones=(0.5,))),
    # 4x that compute: two passes over a seeded 40%, the lr cut x0.1 for the second (README: its
    # seed-to-seed Spearman on Fashion-MNIST against the cheaper budgets').
    "cpu-decay-4x": MeasuredBudget("nb201-measured-cpu-decay-4x", C=4, N=1, train_fraction=0.4,
                                   training=replace(_GT_TRAINING, epochs=2, lr_milestones=(0.5,))),
})
# The default: the most reliable budget measured on this machine class (README, "NAS ranking").
DEFAULT_GT_BUDGET = "cpu-decay-4x"


def cell_code(arch_str: str) -> str:
    """Six digits, the ``OPS`` index of each edge in string order (a file-name-safe cell id)."""
    return "".join(str(OPS.index(op)) for node in parse_arch(arch_str) for op, _ in node)


class MeasuredGroundTruth(GroundTruth):
    """Each cell trained on the real training split under ``budget``, tested once on the test split
    after its final epoch. Results are cached in
    ``<output>/cache/nas-ground-truth/<dataset>-<budget fingerprint>/<cell code>.json``."""

    def __init__(self, dataset: str, budget: MeasuredBudget = MEASURED_BUDGETS[DEFAULT_GT_BUDGET], device="cpu",
                 progress: bool = True):
        if not 0 < budget.train_fraction <= 1:
            raise HarnessError(f"train_fraction must be in (0, 1], got {budget.train_fraction}")
        self.dataset, self.budget, self.device, self.progress = dataset, budget, torch.device(device), progress
        self.folder = cache_dir("nas-ground-truth", f"{dataset}-{budget.fingerprint()}")
        self._splits = None

    def _path(self, arch_str: str) -> Path:
        return self.folder / f"{cell_code(arch_str)}.json"

    def _cached(self, arch_str: str) -> dict | None:
        path = self._path(arch_str)
        try:
            entry = json.loads(path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None
        # the same measurement: the same cell under a budget of the same identity (a field added to the
        # protocol since, at its default, leaves it the same; raw dicts would differ and re-measure it)
        same = entry.get("arch") == arch_to_string(parse_arch(arch_str)) and "budget" in entry and \
            budget_fingerprint(entry["budget"]) == self.budget.fingerprint()
        return entry if same else None

    def _data(self):
        """(normalised training images, labels, test split), loaded once."""
        if self._splits is None:
            train = load_dataset(self.dataset, "train")
            n = round(self.budget.train_fraction * len(train))
            gen = torch.Generator().manual_seed(mix_seed(self.budget.seed, 2))
            index = torch.randperm(len(train), generator=gen)[:n].sort().values
            self._splits = (train.normalised(index), train.labels[index], load_dataset(self.dataset, "test"))
        return self._splits

    def _measure(self, arch_str: str) -> dict:
        images, labels, test = self._data()
        with measure(self.device) as m:
            model = self.budget.build(arch_str, test.info, self.budget.seed, self.device)
            train_model(model, images, labels, self.budget.training, self.budget.seed, one_off_graph=True)
            accuracy = test_model(model, test)["accuracy"]
        entry = {"arch": arch_to_string(parse_arch(arch_str)), "dataset": self.dataset, "accuracy": accuracy,
                 "train_images": len(labels), "budget": self.budget.as_dict(),
                 "budget_fingerprint": self.budget.fingerprint(), "timing": {**m.as_dict(), "device": str(self.device)},
                 **environment()}
        atomic_write_text(self._path(arch_str), json.dumps(entry, indent=2, default=str))
        return entry

    def prepare(self, archs: list[str], log=print) -> None:
        todo = [a for a in dict.fromkeys(archs) if self._cached(a) is None]
        if todo:
            done = [json.loads(p.read_text())["timing"]["wall_seconds"] for p in self.folder.glob("*.json")]
            pace = (f"about {len(todo) * sum(done) / len(done) / 60:.0f} min at the {len(done)} cells measured so far"
                    if done else "the progress bar estimates it after the first cell")
            log(f"ground truth: training {len(todo)} NB201 cells on {self.dataset} ({self.budget.name}, seed "
                f"{self.budget.seed}): {pace}; cached in {self.folder}, so a rerun only reads them")
        for arch in tqdm(todo, desc=f"ground truth on {self.dataset}", unit="cell", disable=not self.progress or not todo):
            self._measure(arch)

    def accuracy(self, arch_str: str) -> float:
        return float((self._cached(arch_str) or self._measure(arch_str))["accuracy"])

    def replicate(self) -> "MeasuredGroundTruth":
        return MeasuredGroundTruth(self.dataset, replace(self.budget, seed=self.budget.seed + 1), self.device,
                                   self.progress)

    def describe(self) -> dict:
        b = self.budget
        share = "all of" if b.train_fraction == 1 else f"a seeded {b.train_fraction:.0%} sample of"
        return {
            "source": f"measured: NB201 C={b.C} N={b.N} trained on {share} the real {self.dataset} training "
                      f"split for {b.training.epochs} epoch(s) (batch {b.training.batch_size}, lr {b.training.lr}), "
                      f"seed {b.seed}",
            "dataset": self.dataset,
            "metric": "test accuracy (%) after the final epoch",
            "budget": b.as_dict(),
            "budget_fingerprint": b.fingerprint(),
        }


SHIPPED = Path(__file__).parent / "data"


def shipped_path(dataset: str) -> Path:
    return SHIPPED / f"{dataset}.json"


def shipped_checksum(content: dict) -> str:
    """sha256 of what a shipped file asserts: dataset, budget, seeds and every cell's accuracies."""
    keys = ("dataset", "budget", "seeds", "cells")
    return hashlib.sha256(json.dumps({k: content[k] for k in keys}, sort_keys=True).encode()).hexdigest()


class ShippedGroundTruth(GroundTruth):
    """A measured ground truth shipped in the package: per cell, the accuracy of each seed of the
    stated budget (seed ``column`` is the one used; the next seed is its :meth:`replicate`).
    Refused on load when its checksum, its budget's fingerprint, or the registered budget of that
    name disagree with it; ``--ground-truth train --gt-budget NAME`` recomputes it."""

    def __init__(self, dataset: str, column: int = 0):
        path = shipped_path(dataset)
        if not path.is_file():
            raise HarnessError(f"no ground truth is shipped for {dataset} (only for "
                               f"{', '.join(sorted(p.stem for p in SHIPPED.glob('*.json'))) or 'no dataset'}): "
                               f"use --ground-truth train")
        content = json.loads(path.read_text())
        budget = content["budget"]
        registered = next((b for b in MEASURED_BUDGETS.values() if b.name == budget["name"]), None)
        if content.get("sha256") != shipped_checksum(content):
            raise HarnessError(f"{path} does not match its checksum: the file was changed; recompute it with "
                               f"python -m harness nas-truth --dataset {dataset}")
        if budget_fingerprint(budget) != content["budget_fingerprint"] or registered is None or \
                registered.fingerprint() != content["budget_fingerprint"]:
            raise HarnessError(f"{path}: its budget {budget['name']} ({content['budget_fingerprint']}) is not the "
                               f"registered budget of that name; recompute it with python -m harness nas-truth")
        self.path, self.dataset, self.content, self.column = path, dataset, content, column
        self.seed = content["seeds"][column]

    def accuracy(self, arch_str: str) -> float:
        cell = arch_to_string(parse_arch(arch_str))
        if cell not in self.content["cells"]:
            raise HarnessError(f"cell {cell} is not in the shipped ground truth ({len(self.content['cells'])} cells "
                               f"of sample seed {self.content['sample_seed']}): use --ground-truth train")
        return float(self.content["cells"][cell][self.column])

    def replicate(self) -> "ShippedGroundTruth | None":
        if self.column + 1 >= len(self.content["seeds"]):
            return None
        return ShippedGroundTruth(self.dataset, self.column + 1)

    def describe(self) -> dict:
        b = self.content["budget"]
        return {
            "source": f"shipped measurement {self.path.name} (sha256 {self.content['sha256'][:12]}): NB201 C={b['C']} "
                      f"N={b['N']} trained on a seeded {b['train_fraction']:.0%} sample of the real {self.dataset} "
                      f"training split for {b['training']['epochs']} epoch(s), seed {self.seed}",
            "dataset": self.dataset,
            "metric": "test accuracy (%) after the final epoch",
            "budget": b,
            "budget_fingerprint": self.content["budget_fingerprint"],
            "seed": self.seed,
        }


def write_shipped(dataset: str, budget: MeasuredBudget, seeds: list[int], cells: list[str], sample_seed: int,
                  device="cpu", progress: bool = True) -> Path:
    """Measure (or read from the cache) every cell under ``budget`` with each seed, and write the
    package's shipped file for ``dataset`` with its provenance and checksum."""
    truths = [MeasuredGroundTruth(dataset, replace(budget, seed=s), device, progress) for s in seeds]
    for truth in truths:
        truth.prepare(cells)
    entries = {a: [truth._cached(a) for truth in truths] for a in cells}
    content = {"dataset": dataset, "budget": json.loads(json.dumps(budget.as_dict())), "seeds": list(seeds),
               "cells": {arch_to_string(parse_arch(a)): [e["accuracy"] for e in entries[a]] for a in cells}}
    content.update({"budget_fingerprint": budget.fingerprint(), "sample_seed": sample_seed,
                    "produced_by": f"python -m harness nas-truth --dataset {dataset} --cells {len(cells)} "
                                   f"--seeds {len(seeds)} --gt-budget {budget.name.removeprefix('nb201-measured-')}",
                    "wall_seconds": sum(e["timing"]["wall_seconds"] for row in entries.values() for e in row),
                    **environment(), "sha256": shipped_checksum(content)})
    path = shipped_path(dataset)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(content, indent=1, default=str) + "\n")
    return path

