"""The plan is said before the work: every unit a run will compute, one estimate of the whole run's
time, and progress over the whole run (a line per finished unit with the time spent and left).

A task lists its units (:class:`Unit`: a distillation, a pretraining, an evaluated cell) and asks a
:class:`CostBook` what each costs. The book prefers what this machine has recorded under the output
folder, scaled to the unit's size:

* a model trained and tested (an evaluation cell): the cost model :func:`model_seconds` (training
  steps x images per step, plus the test) times this machine's speed for the architecture: the
  median of measured / modelled time over the records that name it (timing.wall_seconds of every
  record the harness wrote for a model), else a probe of it timed now (:func:`probe_speed`: a few
  training steps and a test chunk, seconds), else the median over every architecture recorded;
* a distillation: the median seconds per iteration of the artifacts of the same distiller and
  dataset (manifest timing.wall_seconds / config.iterations) times the iterations;
* a pretrained network: the cached networks' manifests (timing.wall_seconds per epoch-image).

A recorded time counts at most its CPU time (timing.cpu_seconds, all threads): a process that was
paused (SIGSTOP, a suspended laptop) accrued wall time but no work. Where nothing is recorded or
probed the model alone is used (its constants: :data:`ARCH_COSTS`), and the progress lines correct
the remaining time by the pace of the units already finished.
"""

from __future__ import annotations

import json
import math
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from harness.data.core import registered_info
from harness.records import scan_records
from harness.train import init_model, make_optimizer

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
                  test_images: int = TEST_IMAGES, speeds: tuple[float, float] = (1.0, 1.0)) -> float:
    """The cost model of training ``arch`` for ``epochs`` on ``images`` images and testing it;
    ``speeds``: this machine's (training, testing) time against the model's constants."""
    per_image, fixed, test = ARCH_COSTS.get(arch, ARCH_COSTS[FALLBACK_ARCH])
    scale = pixels / REFERENCE_PIXELS
    steps = epochs * math.ceil(images / batch_size)
    train = steps * per_image * scale * (fixed + min(images, batch_size))
    return (speeds[0] * train / (COMPILE_SPEEDUP if compiled else 1.0)
            + speeds[1] * test * scale * test_images / TEST_IMAGES)


def pixels_of(dataset: str) -> int:
    info = registered_info(dataset)
    return info.channels * info.size * info.size if info else REFERENCE_PIXELS


def classes_of(dataset: str) -> int:
    info = registered_info(dataset)
    return info.num_classes if info else 10


PROBE_STEPS = 3  # timed training steps per architecture (after one untimed warm-up step)
PROBE_TEST_IMAGES = 512  # one test chunk (harness.evaluation.TEST_CHUNK)


def probe_speed(arch: str, info, batch_size: int, protocol, device="cpu") -> tuple[float, float]:
    """(training, testing) speed of ``arch`` on this machine now, as measured / modelled time:
    the median of :data:`PROBE_STEPS` eager training steps on ``batch_size`` random images (with the
    protocol's augmentation and optimiser) and one no-grad forward of a test chunk. It replaces the
    cost model's constants (measured on one CPU) where this machine has recorded nothing for the
    architecture; ConvNet, MLP and VGG-11 at batches 10 and 40 took 10.6 s on 2 quiet cores.
    """
    protocol = protocol.for_dataset(info)
    model = init_model(arch, info, 0, device)
    optimizer, _ = make_optimizer(model, protocol, 1)
    gen = torch.Generator().manual_seed(0)
    shape = (info.channels, info.size, info.size)
    x, y = torch.randn(batch_size, *shape, generator=gen).to(device), torch.arange(batch_size).remainder(
        info.num_classes).to(device)
    times = []
    for _ in range(PROBE_STEPS + 1):
        start = time.perf_counter()
        batch = protocol.augmentation.apply(x, gen) if protocol.augmentation is not None else x
        loss = F.cross_entropy(model(batch), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    model.eval()
    with torch.no_grad():
        test_batch = torch.randn(PROBE_TEST_IMAGES, *shape, generator=gen).to(device)
        start = time.perf_counter()
        model(test_batch)
        test = time.perf_counter() - start
    per_image, fixed, test_cost = ARCH_COSTS.get(arch, ARCH_COSTS[FALLBACK_ARCH])
    scale = info.channels * info.size * info.size / REFERENCE_PIXELS
    return (statistics.median(times[1:]) / (per_image * scale * (fixed + batch_size)),
            test / (test_cost * scale * PROBE_TEST_IMAGES / TEST_IMAGES))


class CostBook:
    """What this machine has recorded under an output folder, as costs of units to come."""

    def __init__(self, speeds: dict[str, list[float]] | None = None,
                 iteration_seconds: dict[tuple[str, str], list[float]] | None = None,
                 set_seconds: dict[tuple[str, str], list[float]] | None = None):
        self.speeds = speeds or {}  # arch -> measured / modelled wall time of its recorded models
        self.iteration_seconds = iteration_seconds or {}  # (distiller, dataset) -> seconds per iteration
        self.set_seconds = set_seconds or {}  # (distiller, dataset) -> seconds of a non-iterative set
        self.probed: dict[str, dict[int, tuple[float, float]]] = {}  # arch -> batch -> (train, test) speed timed now

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
        wall, per_class = worked_seconds(timing), extra.get("images_per_class")
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
        wall, config = worked_seconds(manifest["timing"]), manifest.get("config") or {}
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

    def probe(self, archs, dataset: str, batch_sizes, protocol, device="cpu") -> None:
        """Time each of ``archs`` that this machine has no record of (:func:`probe_speed`), at the
        smallest and the largest of ``batch_sizes`` (the steps the run will take)."""
        info, sizes = registered_info(dataset), sorted(set(batch_sizes))
        for arch in archs:
            if info is None or arch in self.speeds:
                continue
            probed = self.probed.setdefault(arch, {})
            for batch in {sizes[0], sizes[-1]} - set(probed):
                probed[batch] = probe_speed(arch, info, batch, protocol, device)

    def factors(self, arch: str, batch_size: int | None = None) -> tuple[float, float]:
        """(training, testing) speed of ``arch``: recorded, else probed (at the probed batch nearest
        ``batch_size``), else the median over every architecture recorded or probed."""
        if arch in self.speeds or (not self.probed and self.speeds):
            return (self.speed(arch)[0],) * 2
        if self.probed.get(arch):
            by_batch = self.probed[arch]
            return by_batch[min(by_batch, key=lambda b: abs(math.log(b / (batch_size or b))))]
        if self.probed:
            every = [f for by_batch in self.probed.values() for f in by_batch.values()]
            return tuple(statistics.median(f[i] for f in every) for i in (0, 1))
        return 1.0, 1.0

    def evaluation(self, arch: str, dataset: str, images: int, epochs: int, batch_size: int,
                   compiled: bool, test_images: int = TEST_IMAGES) -> float:
        return model_seconds(arch, pixels_of(dataset), images, epochs, batch_size, compiled, test_images,
                             self.factors(arch, min(images, batch_size)))

    def distillation(self, distiller: str, dataset: str, iterations: int | None, images_per_iteration: int) -> float:
        """One set: recorded seconds per iteration x ``iterations``, else the matching model."""
        if not iterations:
            recorded = self.set_seconds.get((distiller, dataset))
            return statistics.median(recorded) if recorded else SELECTION_SECONDS
        recorded = self.iteration_seconds.get((distiller, dataset))
        if recorded:
            return statistics.median(recorded) * iterations
        step = model_seconds("convnet", pixels_of(dataset), images_per_iteration, 1, images_per_iteration,
                             test_images=0, speeds=self.factors("convnet", images_per_iteration))
        return SELECTION_SECONDS + MATCHING_FACTOR * iterations * step

    def pretraining(self, dataset: str, arch: str, images: int, epochs: int, batch_size: int,
                    test_images: int = TEST_IMAGES) -> float:
        """One network pretrained (eagerly, as harness.pretrained trains it) and tested."""
        return self.evaluation(arch, dataset, images, epochs, batch_size, False, test_images)

    def basis(self) -> str:
        """Where the estimate comes from, in words."""
        models = sum(len(v) for v in self.speeds.values())
        sets = sum(len(v) for v in [*self.iteration_seconds.values(), *self.set_seconds.values()])
        probed = f"; {', '.join(self.probed)} timed now for a few steps" if self.probed else ""
        if not models and not sets:
            return f"the harness's cost model (no costs recorded in this output folder yet{probed})"
        return (f"the wall times this machine recorded here ({models} trained model(s), {sets} distilled set(s)), "
                f"scaled to each unit's size; the cost model where none apply{probed}")


def worked_seconds(timing: dict) -> float | None:
    """A unit's recorded wall time, at most its CPU time (a paused process accrues no CPU time)."""
    wall, cpu = timing.get("wall_seconds"), timing.get("cpu_seconds")
    if isinstance(wall, (int, float)) and isinstance(cpu, (int, float)) and cpu > 0:
        return min(wall, cpu)
    return wall if isinstance(wall, (int, float)) else None


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
