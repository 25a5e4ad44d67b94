"""Ground-truth accuracies of NAS-Bench-201 cells, behind one interface (``GroundTruth``).

- ``OfficialNB201(path, dataset)``: the official benchmark file, read with ``nas_201_api``
  (the user supplies the file; no registry ships it).
- ``AnalogNasBenchTable()``: CIFAR-10 accuracies of all 15,625 cells from the ``analog-nasbench``
  wheel (``baseline_accuracy``: standard 200-epoch training in the NB201 space; not the official
  file, but it installs offline). Its keys are 6-tuples of op indices; ``arch_to_table_key`` and
  ``table_key_to_arch`` convert to and from the NB201 string.
- ``MeasuredGroundTruth(dataset, budget)``: for datasets no table covers, each cell trained on the
  real training set under a stated ``MeasuredBudget`` and scored once on the test split after its
  final epoch; cached as JSON per (dataset, budget fingerprint, cell) so each cell is paid once.

``make_ground_truth(kind, ...)`` picks one by name (``train``, ``table``, ``official``).

Accuracies are percentages (0-100), as in both sources.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import json
import pickle
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from tqdm.auto import tqdm

from harness.augment import mix_seed
from harness.checkpoint import atomic_write_text
from harness.data import DatasetInfo, load_dataset
from harness.errors import HarnessError
from harness.paths import cache_dir
from harness.protocol import EvalProtocol
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

    def fingerprint(self) -> str:
        """A short hash of ``describe()``: numbers from different sources are never mixed."""
        return hashlib.sha256(json.dumps(self.describe(), sort_keys=True, default=str).encode()).hexdigest()[:12]


class OfficialNB201(GroundTruth):
    """The official NAS-Bench-201 file: mean test accuracy over trial seeds of the 200-epoch runs.

    The test split is the benchmark's own: CIFAR-10's test set (``ori-test``) for cifar10, the
    ``x-test`` half of the original test set for cifar100 and ImageNet16-120.
    """

    DATASETS = {"cifar10": "ori-test", "cifar100": "x-test", "ImageNet16-120": "x-test"}

    def __init__(self, path: str | Path, dataset: str = "cifar10"):
        if dataset not in self.DATASETS:
            raise HarnessError(f"NAS-Bench-201 dataset must be one of {', '.join(self.DATASETS)}, not {dataset!r}")
        self.path, self.dataset = Path(path), dataset
        if not self.path.is_file():
            raise HarnessError(
                f"NAS-Bench-201 file not found: {self.path} (download NAS-Bench-201-v1_1-096897.pth "
                "or NAS-Bench-201-v1_0-e61699.pth from the NAS-Bench-201 authors and pass its path)"
            )
        from nas_201_api import NASBench201API

        try:
            self.api = NASBench201API(str(self.path), verbose=False)
        except (pickle.UnpicklingError, AssertionError, KeyError) as exc:
            raise HarnessError(f"not a readable NAS-Bench-201 file: {self.path} ({exc})") from None

    def accuracy(self, arch_str: str) -> float:
        index = self.api.query_index_by_arch(arch_to_string(parse_arch(arch_str)))
        if index < 0:
            raise HarnessError(f"cell not in the NAS-Bench-201 file: {arch_str}")
        results = self.api.query_meta_info_by_index(index, hp="200")
        split = self.DATASETS[self.dataset]
        return float(results.get_metrics(self.dataset, split, is_random=False)["accuracy"])

    def describe(self) -> dict:
        return {
            "source": f"NAS-Bench-201 official file {self.path.name}",
            "dataset": self.dataset,
            "metric": f"test accuracy (%) on {self.DATASETS[self.dataset]}, 200-epoch runs, mean over seeds",
        }


# analog-nasbench's op indices and the edge (to, from) of each tuple position.
TABLE_OPS = ("skip_connect", "none", "nor_conv_3x3", "nor_conv_1x1", "avg_pool_3x3")
TABLE_EDGES = ((1, 0), (2, 0), (3, 0), (2, 1), (3, 1), (3, 2))


def arch_to_table_key(arch_str: str) -> tuple[int, ...]:
    """The analog-nasbench key (6 op indices, one per ``TABLE_EDGES`` position) of an NB201 string."""
    ops = {(to, source): op for to, edges in enumerate(parse_arch(arch_str), start=1) for op, source in edges}
    return tuple(TABLE_OPS.index(ops[edge]) for edge in TABLE_EDGES)


def table_key_to_arch(key: tuple[int, ...]) -> str:
    """The NB201 string of an analog-nasbench key (inverse of ``arch_to_table_key``)."""
    ops = {edge: TABLE_OPS[i] for edge, i in zip(TABLE_EDGES, key, strict=True)}
    return arch_to_string(tuple(tuple((ops[to, j], j) for j in range(to)) for to in (1, 2, 3)))


class _Record:
    """Plain stand-in for analog-nasbench's ``Architecture`` and ``DriftMeasurement`` records."""


class _AnalogTableUnpickler(pickle.Unpickler):
    """Unpickles only the table's two record classes, as plain attribute holders."""

    ALLOWED = {("analognasbench.data", "Architecture"), ("analognasbench.data", "DriftMeasurement")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return _Record


class AnalogNasBenchTable(GroundTruth):
    """CIFAR-10 accuracies of all 15,625 NB201 cells from the ``analog-nasbench`` wheel's table."""

    def __init__(self):
        spec = importlib.util.find_spec("analognasbench")
        path = Path(spec.submodule_search_locations[0]) / "data.anb" if spec else None
        if path is None or not path.is_file():
            raise HarnessError("analog-nasbench is not installed: run `pip install analog-nasbench`")
        with open(path, "rb") as f:
            records = _AnalogTableUnpickler(f).load()
        self.version = importlib.metadata.version("analog-nasbench")
        self.accuracies = {tuple(key): float(r.baseline_accuracy) for key, r in records.items()}

    def accuracy(self, arch_str: str) -> float:
        return self.accuracies[arch_to_table_key(arch_str)]

    def describe(self) -> dict:
        return {
            "source": f"analog-nasbench {self.version} data.anb (not the official NAS-Bench-201 file)",
            "dataset": "cifar10",
            "metric": "baseline_accuracy (%): standard 200-epoch training in the NB201 space",
        }


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
        body = self.as_dict()
        del body["name"], body["training"]["name"]
        return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()[:12]

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
    "cpu": MeasuredBudget("nb201-measured-cpu", C=4, N=1, training=_GT_TRAINING, train_fraction=0.2),
})


def cell_code(arch_str: str) -> str:
    """Six digits, the ``OPS`` index of each edge in string order (a file-name-safe cell id)."""
    return "".join(str(OPS.index(op)) for node in parse_arch(arch_str) for op, _ in node)


class MeasuredGroundTruth(GroundTruth):
    """Each cell trained on the real training split under ``budget``, tested once on the test split
    after its final epoch. Results are cached in
    ``<output>/cache/nas-ground-truth/<dataset>-<budget fingerprint>/<cell code>.json``."""

    def __init__(self, dataset: str, budget: MeasuredBudget = MEASURED_BUDGETS["cpu"], device="cpu",
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
        budget = json.loads(json.dumps(self.budget.as_dict()))  # as read back from JSON (tuples are lists)
        same = entry.get("arch") == arch_to_string(parse_arch(arch_str)) and entry.get("budget") == budget
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
            train_model(model, images, labels, self.budget.training, self.budget.seed)
            accuracy = test_model(model, test)["accuracy"]
        entry = {"arch": arch_to_string(parse_arch(arch_str)), "dataset": self.dataset, "accuracy": accuracy,
                 "train_images": len(labels), "budget": self.budget.as_dict(),
                 "budget_fingerprint": self.budget.fingerprint(), "timing": {**m.as_dict(), "device": str(self.device)},
                 **environment()}
        atomic_write_text(self._path(arch_str), json.dumps(entry, indent=2, default=str))
        return entry

    def prepare(self, archs: list[str]) -> None:
        todo = [a for a in dict.fromkeys(archs) if self._cached(a) is None]
        for arch in tqdm(todo, desc=f"ground truth on {self.dataset}", unit="cell", disable=not self.progress or not todo):
            self._measure(arch)

    def accuracy(self, arch_str: str) -> float:
        return float((self._cached(arch_str) or self._measure(arch_str))["accuracy"])

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


GROUND_TRUTHS: Registry[str] = Registry("ground truth", {
    "train": "measured on the dataset's real training split (cached per cell)",
    "table": "the offline analog-nasbench CIFAR-10 table",
    "official": "the NAS-Bench-201 file (--nb201-file)",
})


def make_ground_truth(kind: str, dataset: str, nb201_file: str | Path | None = None,
                      budget: MeasuredBudget = MEASURED_BUDGETS["cpu"], device="cpu",
                      progress: bool = True) -> GroundTruth:
    """``train``: measured on ``dataset``; ``table``: analog-nasbench (CIFAR-10 only); ``official``:
    the NAS-Bench-201 file at ``nb201_file`` (CIFAR-10 or CIFAR-100)."""
    GROUND_TRUTHS.get(kind)  # an unknown kind: one line with "did you mean"
    if kind == "train":
        return MeasuredGroundTruth(dataset, budget, device, progress)
    if kind == "table":
        if dataset != "cifar10":
            raise HarnessError(f"the analog-nasbench table holds CIFAR-10 accuracies only, not {dataset}: "
                               "use --ground-truth train (or --dataset cifar10)")
        return AnalogNasBenchTable()
    if nb201_file is None:
        raise HarnessError("--ground-truth official needs --nb201-file PATH (the NAS-Bench-201 .pth file)")
    if dataset not in ("cifar10", "cifar100"):
        raise HarnessError(f"the NAS-Bench-201 file covers cifar10 and cifar100 among the harness datasets, not "
                           f"{dataset}: use --ground-truth train")
    return OfficialNB201(nb201_file, dataset)
