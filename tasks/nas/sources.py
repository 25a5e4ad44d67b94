"""Where a NAS-Bench-201 ground truth comes from, by name (``--ground-truth``):

- ``shipped`` (the offline default where the package ships one): :class:`ShippedGroundTruth`, a
  measurement the harness made and ships as JSON (``tasks/nas/data/<dataset>.json``);
- ``train``: :class:`MeasuredGroundTruth`, measured here on the real training split (cached);
- ``table``: ``AnalogNasBenchTable()``, CIFAR-10 accuracies of all 15,625 cells from the
  ``analog-nasbench`` wheel (``baseline_accuracy``: standard 200-epoch training in the NB201
  space; not the official file, but it installs offline). Its keys are 6-tuples of op indices;
  ``arch_to_table_key`` and ``table_key_to_arch`` convert to and from the NB201 string;
- ``official``: ``OfficialNB201(path, dataset)``, the official benchmark file read with
  ``nas_201_api`` (the user supplies it; no registry ships it; it is a pickle, so it is read only
  when the user names it).

Accuracies are percentages (0-100), as in every source.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import pickle
from pathlib import Path

from harness.errors import HarnessError
from harness.registry import Registry
from tasks.nas.ground_truth import (
    DEFAULT_GT_BUDGET,
    MEASURED_BUDGETS,
    GroundTruth,
    MeasuredBudget,
    MeasuredGroundTruth,
    ShippedGroundTruth,
)
from tasks.nas.nb201 import arch_to_string, parse_arch


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


GROUND_TRUTHS: Registry[str] = Registry("ground truth", {
    "shipped": "the harness's own measurement shipped with the package (fashion-mnist), checked when loaded",
    "train": "measured on the dataset's real training split (cached per cell)",
    "table": "the offline analog-nasbench CIFAR-10 table",
    "official": "the NAS-Bench-201 file (--nb201-file)",
})


def make_ground_truth(kind: str, dataset: str, nb201_file: str | Path | None = None,
                      budget: MeasuredBudget | None = None, device="cpu", progress: bool = True) -> GroundTruth:
    """``shipped``: the packaged measurement of ``dataset``; ``train``: measured on ``dataset`` under
    ``budget`` (default :data:`DEFAULT_GT_BUDGET`); ``table``: analog-nasbench (CIFAR-10 only);
    ``official``: the NAS-Bench-201 file at ``nb201_file`` (CIFAR-10 or CIFAR-100). A ``budget``
    that is not the one the ground truth has is refused."""
    check_ground_truth(kind, dataset, nb201_file, budget)
    if kind == "shipped":
        return ShippedGroundTruth(dataset)
    if kind == "train":
        return MeasuredGroundTruth(dataset, budget or MEASURED_BUDGETS[DEFAULT_GT_BUDGET], device, progress)
    if kind == "table":
        return AnalogNasBenchTable()
    return OfficialNB201(nb201_file, dataset)


def check_ground_truth(kind: str, dataset: str, nb201_file: str | Path | None = None,
                       budget: MeasuredBudget | None = None) -> None:
    """What :func:`make_ground_truth` refuses, checked without measuring or writing anything."""
    GROUND_TRUTHS.get(kind)  # an unknown kind: one line with "did you mean"
    if budget is not None and kind in ("table", "official"):
        raise HarnessError(f"--gt-budget applies to a measured ground truth, not to --ground-truth {kind}: drop it")
    if kind == "shipped":
        shipped = ShippedGroundTruth(dataset).content["budget"]["name"]
        if budget is not None and budget.name != shipped:
            short = budget.name.removeprefix("nb201-measured-")
            raise HarnessError(f"the shipped ground truth of {dataset} was measured under {shipped.removeprefix('nb201-measured-')}, "
                               f"not {short}: add --ground-truth train to measure {short} here, or drop --gt-budget")
    if kind == "table" and dataset != "cifar10":
        raise HarnessError(f"the analog-nasbench table holds CIFAR-10 accuracies only, not {dataset}: "
                           "use --ground-truth train (or --dataset cifar10)")
    if nb201_file is not None and kind != "official":
        raise HarnessError(f"--nb201-file is read by --ground-truth official only, not {kind}: add it, or drop the file")
    if kind == "official" and nb201_file is None:
        raise HarnessError("--ground-truth official needs --nb201-file PATH (the NAS-Bench-201 .pth file)")
    if kind == "official" and dataset not in ("cifar10", "cifar100"):
        raise HarnessError(f"the NAS-Bench-201 file covers cifar10 and cifar100 among the harness datasets, not "
                           f"{dataset}: use --ground-truth train")
    if kind == "official" and not Path(nb201_file).is_file():
        raise HarnessError(f"--nb201-file {nb201_file} is not a file: give the NAS-Bench-201 .pth file")
