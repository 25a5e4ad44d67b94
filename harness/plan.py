"""The plan is said before the work: every unit a run will compute, one estimate of the whole run's
time, and progress over the whole run (a line per finished unit with the time spent and left).

A task lists its units (:class:`Unit`: a distillation, a pretraining, an evaluated cell) and asks a
:class:`CostBook` what each costs. The book prefers what this machine has recorded under the output
folder, scaled to the unit's size:

* a model trained and tested (an evaluation cell): the cost model :func:`model_seconds` (training
  steps x images per step, plus the test) times this machine's speed, the median of measured /
  modelled wall time over the records that name the same architecture (timing.wall_seconds of every
  record the harness wrote for a model), else over every architecture recorded;
* a distillation: the median seconds per iteration of the artifacts of the same distiller and
  dataset (manifest timing.wall_seconds / config.iterations) times the iterations;
* a pretrained network: the cached networks' manifests (timing.wall_seconds per epoch-image).

Where nothing is recorded the model alone is used (its constants: :data:`ARCH_COSTS`), and the
progress lines correct the remaining time by the pace of the units already finished.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from harness.data.core import registered_info
from harness.records import scan_records

# Eager CPU cost of one training step of a model: per_image * (fixed + images in the step) seconds
# on 28x28x1 images, and the test on 10,000 of them, from the README's "Cost" figures (2 threads,
# quiet, 2026-12-04, an Intel Xeon: 300 epochs of 1 step on 10 and on 100 MNIST images, test
# subtracted; e.g. ConvNet 27 s and 74 s with an 8 s test). The MLP was not measured: its numbers
# are a guess (DSA's per-step cost dominates a model that small). Other image sizes scale with the
# pixels (a FLOP model); an architecture not listed costs as FALLBACK_ARCH.
ARCH_COSTS = {"convnet": (1.74e-3, 26.0, 8.0), "alexnet": (5.3e-3, 1.0, 16.0), "vgg11": (3.8e-3, 7.0, 18.0),
              "resnet18": (10.0e-3, 5.0, 52.0), "vit": (15.0e-3, 2.0, 46.0), "mlp": (0.3e-3, 60.0, 2.0)}
FALLBACK_ARCH = "resnet18"
REFERENCE_PIXELS = 28 * 28
TEST_IMAGES = 10_000  # the test split of MNIST, Fashion-MNIST, CIFAR-10/100
# torch.compile (harness.speed): 1.19-1.34x more model-epochs per second, after a one-off compile of
# 10-20 s per (architecture, batch shape) in a process.
COMPILE_SPEEDUP = 1.25
COMPILE_SECONDS = 12.0
# A distillation iteration of a matching distiller costs about MATCHING_FACTOR ConvNet training
# steps over its images (classes x (real batch + synthetic images)): DM's quick budget on MNIST IPC
# 10 (100 iterations of 420 images): the whole command took 45 s (README, startup included), the cost
# model says 78 s for 100 such steps.
MATCHING_FACTOR = 0.5
SELECTION_SECONDS = 3.0  # a non-iterative set (random, herding, ...): loading the data, drawing


@dataclass(frozen=True)
class Unit:
    """One piece of a run: ``seconds`` estimated (0 when ``done``: already on disk)."""

    kind: str  # "distil", "pretrain", "evaluate"
    label: str
    seconds: float
    done: bool = False


def model_seconds(arch: str, pixels: int, images: int, epochs: int, batch_size: int, compiled: bool = False,
                  test_images: int = TEST_IMAGES) -> float:
    """The cost model of training ``arch`` for ``epochs`` on ``images`` images and testing it."""
    per_image, fixed, test = ARCH_COSTS.get(arch, ARCH_COSTS[FALLBACK_ARCH])
    scale = pixels / REFERENCE_PIXELS
    steps = epochs * math.ceil(images / batch_size)
    train = steps * per_image * scale * (fixed + min(images, batch_size))
    return train / (COMPILE_SPEEDUP if compiled else 1.0) + test * scale * test_images / TEST_IMAGES


def pixels_of(dataset: str) -> int:
    info = registered_info(dataset)
    return info.channels * info.size * info.size if info else REFERENCE_PIXELS


def classes_of(dataset: str) -> int:
    info = registered_info(dataset)
    return info.num_classes if info else 10


class CostBook:
    """What this machine has recorded under an output folder, as costs of units to come."""

    def __init__(self, speeds: dict[str, list[float]] | None = None,
                 iteration_seconds: dict[tuple[str, str], list[float]] | None = None,
                 set_seconds: dict[tuple[str, str], list[float]] | None = None):
        self.speeds = speeds or {}  # arch -> measured / modelled wall time of its recorded models
        self.iteration_seconds = iteration_seconds or {}  # (distiller, dataset) -> seconds per iteration
        self.set_seconds = set_seconds or {}  # (distiller, dataset) -> seconds of a non-iterative set

    @classmethod
    def from_output(cls, root: Path, device: str = "cpu") -> "CostBook":
        book = cls(defaultdict(list), defaultdict(list), defaultdict(list))
        records, _ = scan_records(sorted((Path(root) / "records").glob("*.jsonl")))
        for r in records:
            book.add_record(r, device)
        for path in sorted((Path(root) / "synsets").rglob("*.json")):
            try:
                book.add_manifest(json.loads(path.read_bytes().decode("utf-8")))
            except (OSError, ValueError, RecursionError):
                continue  # an unreadable manifest says nothing about costs
        return book

    def add_record(self, record: dict, device: str = "cpu") -> None:
        """A model's measured wall time against the cost model (records of one trained model only)."""
        timing, protocol, extra = record.get("timing", {}), record.get("protocol"), record.get("extra", {})
        wall, per_class = timing.get("wall_seconds"), extra.get("images_per_class")
        if not (isinstance(protocol, dict) and "arch" in record and isinstance(per_class, int) and wall
                and str(timing.get("device", "cpu")).split(":")[0] == str(device).split(":")[0]
                and timing.get("seeds_trained_together", 1) == 1):
            return
        dataset = str(record.get("dataset"))
        try:
            modelled = model_seconds(record["arch"], pixels_of(dataset), per_class * classes_of(dataset),
                                     int(protocol["epochs"]), int(protocol["batch_size"]), bool(timing.get("compiled")))
        except (KeyError, TypeError, ValueError):
            return
        self.speeds.setdefault(record["arch"], []).append(wall / modelled)

    def add_manifest(self, manifest) -> None:
        """A distillation's wall time (per iteration when its config has iterations)."""
        if not isinstance(manifest, dict) or not isinstance(manifest.get("timing"), dict):
            return
        wall, config = manifest["timing"].get("wall_seconds"), manifest.get("config") or {}
        key = (str(manifest.get("distiller")), str(manifest.get("dataset")))
        if not isinstance(wall, (int, float)) or not isinstance(config, dict):
            return
        iterations = config.get("iterations")
        if isinstance(iterations, int) and iterations > 0:
            self.iteration_seconds.setdefault(key, []).append(wall / iterations)
        else:
            self.set_seconds.setdefault(key, []).append(wall)

    def speed(self, arch: str) -> tuple[float, int]:
        """(this machine's time / the model's, how many recorded models it rests on)."""
        ratios = self.speeds.get(arch) or [r for rs in self.speeds.values() for r in rs]
        return (statistics.median(ratios), len(ratios)) if ratios else (1.0, 0)

    def evaluation(self, arch: str, dataset: str, images: int, epochs: int, batch_size: int,
                   compiled: bool, test_images: int = TEST_IMAGES) -> float:
        speed, _ = self.speed(arch)
        return speed * model_seconds(arch, pixels_of(dataset), images, epochs, batch_size, compiled, test_images)

    def distillation(self, distiller: str, dataset: str, iterations: int | None, images_per_iteration: int) -> float:
        """One set: recorded seconds per iteration x ``iterations``, else the matching model."""
        if not iterations:
            recorded = self.set_seconds.get((distiller, dataset))
            return statistics.median(recorded) if recorded else SELECTION_SECONDS
        recorded = self.iteration_seconds.get((distiller, dataset))
        if recorded:
            return statistics.median(recorded) * iterations
        speed, _ = self.speed("convnet")
        step = speed * model_seconds("convnet", pixels_of(dataset), images_per_iteration, 1, images_per_iteration,
                                     test_images=0)
        return SELECTION_SECONDS + MATCHING_FACTOR * iterations * step

    def pretraining(self, dataset: str, arch: str, images: int, epochs: int, batch_size: int,
                    test_images: int = TEST_IMAGES) -> float:
        """One network pretrained (eagerly, as harness.pretrained trains it) and tested."""
        return self.evaluation(arch, dataset, images, epochs, batch_size, False, test_images)

    def basis(self) -> str:
        """Where the estimate comes from, in words."""
        models = sum(len(v) for v in self.speeds.values())
        sets = sum(len(v) for v in [*self.iteration_seconds.values(), *self.set_seconds.values()])
        if not models and not sets:
            return "the harness's cost model (no costs recorded in this output folder yet)"
        return (f"the wall times this machine recorded here ({models} trained model(s), {sets} distilled set(s)), "
                f"scaled to each unit's size; the cost model where none apply")


def duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def plan_lines(title: str, details: list[str], units: list[Unit], book: CostBook) -> list[str]:
    """The plan as printed: ``title``, the task's ``details``, the unit counts and ONE estimate."""
    todo = [u for u in units if not u.done]
    counts = defaultdict(lambda: [0, 0])
    for u in units:
        counts[u.kind][u.done] += 1
    parts = [f"{n + d} {kind} unit(s), {d} already done" for kind, (n, d) in counts.items()]
    total = sum(u.seconds for u in todo)
    return [f"plan: {title}", *(f"  {line}" for line in details), f"  {'; '.join(parts)}",
            f"  estimate: about {duration(total)} for the {len(todo)} unit(s) to run, from {book.basis()}"]


class RunProgress:
    """A line per finished unit: how many are done, the time spent, and the whole run's time (the
    plan's estimate of the units left, corrected by the pace of the units finished so far)."""

    def __init__(self, units: list[Unit], log=print, clock=time.monotonic):
        self.todo = [u for u in units if not u.done]
        self.planned = sum(u.seconds for u in self.todo)
        self.log, self.clock, self.start = log, clock, clock()
        self.reported: set[int] = set()  # id() of the units reported
        self.estimated_done = 0.0

    def total(self) -> float:
        """Elapsed plus the planned time left, scaled by the pace so far; the pace is pulled toward
        1 by a tenth of the plan, so one short unit run fast or slow does not swing the estimate."""
        elapsed = self.clock() - self.start
        prior = 0.1 * self.planned
        pace = (elapsed + prior) / (self.estimated_done + prior) if prior > 0 else 1.0
        return elapsed + (self.planned - self.estimated_done) * pace

    def done(self, unit: Unit) -> None:
        """Report ``unit`` finished (once; a unit that was done before the run is not reported)."""
        if unit.done or id(unit) in self.reported:
            return
        self.reported.add(id(unit))
        self.estimated_done += unit.seconds
        elapsed = self.clock() - self.start
        total = self.total()
        self.log(f"plan: {len(self.reported)}/{len(self.todo)} done ({unit.label}); {duration(elapsed)} elapsed, about "
                 f"{duration(total)} in all ({duration(total - elapsed)} left; the plan said {duration(self.planned)})")
