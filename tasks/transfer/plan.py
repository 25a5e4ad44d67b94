"""The transfer run's plan, made before any work: which sets it distils (or reuses), which cells
it trains (or finds recorded), and what each costs (:mod:`harness.plan`)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from distillers._base import settings_it_has
from distillers._runner import planned_artifact
from distillers.equal_budget import budget_controls, equal_budget_controls
from harness.data import load_dataset
from harness.evaluation import read_synset, result_base
from harness.models.fingerprint import arch_cell
from harness.paths import output_root
from harness.plan import COMPILE_SECONDS, CostBook, Unit, classes_of, plan_lines
from harness.pretrained import is_pretrained
from harness.records import RecordStore
from harness.speed import compiles
from tasks.transfer.references import REAL_IPC_FACTOR


def split_sizes(dataset: str) -> tuple[int, int]:
    """(training, test) images: the run loads both splits next anyway (cached in memory)."""
    return len(load_dataset(dataset, "train").labels), len(load_dataset(dataset, "test").labels)


@dataclass(frozen=True)
class SetSpec:
    """One set of the run: a distillation (``given`` None) or the artifact the user gave."""

    distiller: str
    dataset: str
    ipc: int
    seed: int
    settings: tuple[tuple[str, object], ...]
    path: Path
    given: str | None = None
    decoded: int = 0  # a given artifact's training images per class (harness.synset.decoded_per_class)

    @property
    def label(self) -> str:
        return f"{self.distiller} seed {self.seed}" if self.given is None else Path(self.given).name


def planned_sets(config) -> list[SetSpec]:
    """The distiller's sets (one per seed) and its equal-budget controls, or the given artifact and
    its controls; paths as :func:`distillers._runner.distil` will write them (nothing is written)."""
    seeds = range(config.seeds)

    def spec(name: str, dataset: str, ipc: int, seed: int, settings: dict) -> SetSpec:
        merged = {**settings_it_has(name, config.distill_budget), **settings}
        _, path = planned_artifact(name, dataset, ipc, seed, merged)
        return SetSpec(name, dataset, ipc, seed, tuple(merged.items()), path)

    if config.synset is not None:
        from harness.synset import artifact_file, decoded_per_class

        given = artifact_file(config.synset)
        first, _ = read_synset(config.synset, config.dataset)
        sets = [SetSpec(first.meta.get("distiller", "unknown"), first.info.name, first.ipc, -1, (), given,
                        config.synset, decoded_per_class(first))]
        controls = equal_budget_controls(first) if first.meta.get("distiller") != "random" else []
        dataset, ipc = first.info.name, first.ipc
    else:
        sets = [spec(config.distiller, config.dataset, config.ipc, s, dict(config.settings)) for s in seeds]
        distiller, _ = planned_artifact(config.distiller, config.dataset, config.ipc, 0, dict(sets[0].settings))
        rho = int(getattr(distiller.config, "multi_formation", 1))
        controls = budget_controls(rho, config.ipc) if config.distiller != "random" else []
        dataset, ipc = config.dataset, config.ipc
    return sets + [spec(name, dataset, ipc, s, settings) for name, settings, _ in controls for s in seeds]


def images_per_class(spec: SetSpec) -> int:
    """What a model trains on per class: a multi-formation set (and its decoded control) rho^2 x IPC."""
    if spec.given is not None:
        return spec.decoded
    distiller, _ = planned_artifact(spec.distiller, spec.dataset, spec.ipc, spec.seed, dict(spec.settings))
    return spec.ipc * int(getattr(distiller.config, "multi_formation", 1)) ** 2


def plan_units(config, sets: list[SetSpec], store: RecordStore, book: CostBook) -> tuple[list[Unit], dict]:
    """Every unit in run order, and ``cells``: (set index, arch, seed) -> its evaluation unit. An
    architecture this machine has no record of is timed for a few steps first (at the run's smallest
    and largest batch: :meth:`CostBook.probe`)."""
    protocol, units, cells, pretrained, shapes = config.protocol, [], {}, set(), set()
    batches = [min(images_per_class(spec) * classes_of(spec.dataset), protocol.batch_size) for spec in sets]
    book.probe(config.archs, sets[0].dataset, batches, protocol, config.device)
    for spec in sets:
        if spec.given is not None:
            continue
        distiller, _ = planned_artifact(spec.distiller, spec.dataset, spec.ipc, spec.seed, dict(spec.settings))
        exists = spec.path.exists()
        for arch, recipe in ([] if exists else distiller.pretraining()):
            for k in range(recipe.models):
                net = (spec.dataset, arch, recipe.seed + k, recipe.cache_key())
                if net not in pretrained and not is_pretrained(spec.dataset, arch, recipe.seed + k, recipe):
                    pretrained.add(net)
                    train, test = split_sizes(spec.dataset)
                    seconds = book.pretraining(spec.dataset, arch, min(recipe.images or train, train), recipe.epochs,
                                               recipe.batch_size, test)
                    units.append(Unit("pretrain", f"pretrain {arch} network {recipe.seed + k} ({recipe.name})",
                                      seconds))
        cfg = distiller.config
        per_iteration = classes_of(spec.dataset) * (getattr(cfg, "real_batch", 0) + images_per_class(spec))
        units.append(Unit("distil", f"distil {spec.label}",
                          book.distillation(spec.distiller, spec.dataset, getattr(cfg, "iterations", None),
                                            per_iteration), done=exists))
    for i, spec in enumerate(sets):
        recorded, (_, test) = recorded_keys(spec, config, store), split_sizes(spec.dataset)
        images = images_per_class(spec) * classes_of(spec.dataset)
        steps = math.ceil(images / protocol.batch_size) * protocol.epochs
        for arch in config.archs:
            for seed in ([spec.seed] if spec.given is None else range(config.seeds)):
                done = recorded is not None and (arch, seed) in recorded
                seconds = book.evaluation(arch, spec.dataset, images, protocol.epochs, protocol.batch_size,
                                          compiles(steps), test)
                if not done and compiles(steps) and (arch, images) not in shapes:
                    shapes.add((arch, images))  # the one-off compile of this shape in this process
                    seconds += COMPILE_SECONDS
                cells[(i, arch, seed)] = Unit("evaluate", f"{spec.label} on {arch}, seed {seed}", seconds, done)
                units.append(cells[(i, arch, seed)])
    units += reference_units(config, sets[0].dataset, sets[0].ipc, book)
    return units, cells


def recorded_keys(spec: SetSpec, config, store: RecordStore) -> set | None:
    """(arch, seed) of the set's cells already recorded; None when the set is not on disk yet."""
    if not spec.path.exists():
        return None
    synset, sha = read_synset(spec.given or spec.path)
    base = result_base(synset, sha, config.protocol, "transfer")
    seeds = [spec.seed] if spec.given is None else range(config.seeds)
    return {(a, s) for a in config.archs for s in seeds if store.has({**base, **arch_cell(a, synset.info), "seed": s})}


def reference_units(config, dataset: str, ipc: int, book: CostBook) -> list[Unit]:
    """The reference rows (not looked up in the records: a rerun's estimate counts them again)."""
    if not config.references:
        return []
    p, n, (train, test) = config.protocol, config.references, split_sizes(dataset)
    images = REAL_IPC_FACTOR * ipc * classes_of(dataset)
    units = [Unit("reference", f"reference rows: random {REAL_IPC_FACTOR * ipc}/class", n * sum(
        book.evaluation(a, dataset, images, p.epochs, p.batch_size, False, test) for a in config.archs))]
    if config.full_epochs:
        units.append(Unit("reference", "reference rows: full training split", n * sum(
            book.evaluation(a, dataset, train, config.full_epochs, p.batch_size, False, test) for a in config.archs)))
    return units


def describe(config, sets: list[SetSpec], units: list[Unit], book: CostBook) -> list[str]:
    names = {}
    for s in sets:  # a given artifact by its file name (an imported one's distiller is only "external")
        name = s.distiller if s.given is None else f"given {s.label}"
        names[name] = names.get(name, 0) + 1
    seeds = f"seeds 0-{config.seeds - 1}" if config.seeds > 1 else "seed 0"
    details = [f"sets: {', '.join(f'{n} {name}' for name, n in names.items())} ({sets[0].dataset}, IPC {sets[0].ipc}, "
               f"{seeds})",
               f"architectures: {', '.join(config.archs)}; protocol {config.protocol.name} "
               f"({config.protocol.epochs} epochs); records: {output_root() / 'records' / 'transfer.jsonl'}"]
    return plan_lines(f"transfer of {sets[0].label if sets[0].given else sets[0].distiller}", details, units, book)

