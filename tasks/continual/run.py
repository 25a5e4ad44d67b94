"""Class-incremental learning with GDumb and distilled memories (paper sec. 6.6; the setting of
Zhao & Bilen, WACV 2023, after GDumb, Prabhu et al., ECCV 2020).

The classes, in a fixed order drawn from the seed (recorded), are split evenly into ``steps``
experiences by Avalanche's ``class_incremental_benchmark``. The learner is Avalanche's GDumb
(a plain strategy plus ``GDumbPlugin``): before each experience the model is reset to its initial
weights and trained only on the memory, then tested on the test data of every class seen so far.
Every method gets the same memory, counted as stored images per class (``memory``), the
convention of the papers that use multi-formation (NCFM sec. 5.1): a multi-formation set (ncfm,
csdm: factor rho) stores ``memory`` images per class and decodes each into rho^2 training images,
so the learner trains on rho^2 x ``memory`` per class; records say how many each memory decodes
(``memory_decoded_per_class``). When such a set is among the memories, its equal-budget controls
join them (:func:`distillers.equal_budget.budget_controls`): ``random-packed`` (random real images
through the same decoder, equal storage) and ``random-decoded`` (rho^2 x ``memory`` real images,
equal decoded count, rho^2 times the storage). The memories:

* ``gdumb``: Avalanche's own class-balanced reservoir buffer (random real images);
* ``herding``: per class, herding (Welling, 2009) in the embedding of a random ConvNet
  (``random_network``, keyed by the seed only), from that class's images alone;
* any registered distiller: its synthetic set for the arriving classes, distilled from their
  training images alone (``distillers._runner.distil(classes=...)``; cached artifacts).

No memory builder sees a class before it arrives: a distiller whose networks are pretrained on
real data (NCFM/CSDM's extractor, the ED critics, herding/k-center's embedding) gets, at step t,
``pretrain_classes`` = the classes seen up to t, so its networks are trained on those only (one
cache entry per class set, the classes in the manifest); one that cannot restrict them is refused. Fixed memories plug
in as an Avalanche storage policy (:class:`FixedMemoryBuffer`); training follows an
:class:`~harness.protocol.EvalProtocol` (SGD, lr steps, DSA on every mini-batch) run by Avalanche.
One record per (memory, step, seed) in ``<output>/records/continual.jsonl``; recorded cells are
skipped on rerun (a memory's earlier steps only refill the buffer).
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from distillers._base import create_distiller, setting_names, settings_it_has
from distillers._matching import REAL_CHUNK, random_network
from distillers._runner import distil
from distillers.equal_budget import budget_controls
from distillers.selection import Herding
from harness.augment import mix_seed
from harness.data import ImageData, load_dataset
from harness.errors import HarnessError
from harness.models.fingerprint import arch_cell
from harness.parallel import auto_workers, run_units
from harness.protocol import PROTOCOLS, Augmentation, EvalProtocol
from harness.provenance import measure
from harness.records import RecordStore, cell_key, records_path
from harness.synset import identity_config, load_synset, set_label, stored_per_class
from harness.train import init_model, make_optimizer

TASK = "continual"
RANDOM = "gdumb"  # Avalanche's class-balanced reservoir buffer
HERDING = "herding"
BASELINES = (RANDOM, HERDING)


@dataclass(frozen=True)
class CLConfig:
    dataset: str = "fashion-mnist"
    steps: int = 5
    # Stored images per seen class: 5, a CPU default (each GDumb step retrains from scratch on the whole
    # memory: at 10 per class a one-thread worker's steps 1-4 took 27, 43, 65 and 86 s, about 330 s a
    # (memory, seed) unit with step 5, so the default's six units would take about 18 minutes on 2
    # cores; at 5 a step trains on half the images).
    memory: int = 5
    # baselines and/or registered distillers; herding joins with --baselines gdumb,herding
    memories: tuple[str, ...] = (RANDOM, "dm")
    seeds: int = 3
    distiller_settings: tuple[tuple[str, object], ...] = ()  # e.g. (("iterations", 200),), for every distiller having it
    arch: str = "convnet"
    protocol: EvalProtocol = PROTOCOLS["quick"]
    device: str = "cpu"
    progress: bool = True
    workers: int = 0  # (memory, seed) units at a time, each in its own process; 0: one per CPU core (1 on CUDA)
    synsets: tuple[str, ...] = ()  # given artifacts (e.g. imported) as memories, at the same stored count


def class_order(num_classes: int, seed: int) -> list[int]:
    """The seed's fixed class order (a permutation keyed by the seed alone)."""
    return torch.randperm(num_classes, generator=torch.Generator().manual_seed(mix_seed(seed, -7))).tolist()


def distiller_plan(name: str, settings: tuple[tuple[str, object], ...], extra: dict | None = None
                   ) -> tuple[dict, dict, bool]:
    """(overrides, config as records key it, whether its networks are pretrained) of a distiller
    memory; refuses one whose pretrained networks cannot be restricted to the classes seen so far."""
    overrides = {**settings_it_has(name, settings), **(extra or {})}
    distiller = create_distiller(name, overrides)
    pretrained = distiller.uses_pretrained()
    if pretrained and "pretrain_classes" not in setting_names(name):
        raise HarnessError(f"'{name}' uses a network pretrained on every class and cannot restrict it to the "
                           f"classes seen so far, so it would peek at classes before they arrive")
    return overrides, identity_config(asdict(distiller.config)), pretrained


def given_memories(config: CLConfig) -> dict:
    """The plans of the given sets (``config.synsets``, e.g. imported), each a memory under its set's
    name; refuses one whose stored images per class are not ``memory`` (unequal storage)."""
    plans = {}
    for path in config.synsets:
        synset = load_synset(Path(path), expect_dataset=config.dataset)
        if stored_per_class(synset) != config.memory:
            raise HarnessError(f"{path} stores {stored_per_class(synset)} images per class: run with --memory "
                               f"{stored_per_class(synset)}, so that every memory stores as many")
        plans[set_label(synset)] = ({"synset": str(path)}, {"synset_sha256": synset.meta["sha256"],
                                                            "multi_formation": synset.meta.get("multi_formation", 1)},
                                    False)
    return plans


def equal_budget_memories(plans: dict, memories: tuple[str, ...], settings) -> dict:
    """The plans of the equal-budget controls of the multi-formation memories among ``plans``
    (:func:`distillers.equal_budget.budget_controls`, the stored-count control being ``gdumb``)."""
    rhos = sorted({int(config.get("multi_formation", 1)) for _, config, _ in plans.values() if config} - {1})
    if len(rhos) > 1:
        raise HarnessError(f"multi-formation memories with different factors {rhos}: compare one factor at a time, "
                           f"so each gets its equal-budget controls")
    controls = budget_controls(rhos[0], 1)[1:] if rhos else []
    return {name: distiller_plan(name, settings, extra) for name, extra, _ in controls if name not in memories}


@torch.no_grad()
def herding_memory(train: ImageData, classes: list[int], ipc: int, seed: int, arch: str, device):
    """``ipc`` herded real images per class of ``classes``, in a random network's embedding."""
    data = train.class_subset(classes)
    net = random_network(arch, data, seed, -1, device)
    features = torch.cat([net.embed(data.normalised(chunk, device)) for chunk in torch.arange(len(data)).split(REAL_CHUNK)])
    chooser = Herding()
    index = torch.cat([idx[chooser.choose(features[idx.to(device)], ipc).cpu()]
                       for idx in data.indices_by_class() if len(idx)])
    return data.normalised(index), data.labels[index]


def quiet_avalanche() -> None:
    """Avalanche's deprecation warnings and logging chatter would flood the one progress bar."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module=r"avalanche(\.|$)")
    warnings.filterwarnings("ignore", message=r".*(QP solver|No loggers specified).*")
    logging.getLogger("avalanche").setLevel(logging.ERROR)


def memory_maker(memory: str, config: CLConfig, train: ImageData, seed: int, overrides: dict, pretrained: bool,
                 log) -> Callable[[list[int], list[int]], tuple[torch.Tensor, torch.Tensor, int]]:
    """``make(classes, seen) -> (images, labels, stored per class)`` for a fixed memory, called when
    ``classes`` arrive; ``seen`` (these and every earlier step's) are all its pretrained networks may see."""
    device = torch.device(config.device)
    if "synset" in overrides:  # a given set: at each step, its images of the arriving classes
        synset = load_synset(Path(overrides["synset"]), expect_dataset=config.dataset)
        return lambda classes, seen: (*(t[torch.isin(synset.labels, torch.tensor(classes))]
                                        for t in (synset.images, synset.labels)), stored_per_class(synset))
    if memory == HERDING:
        return lambda classes, seen: (*herding_memory(train, classes, config.memory, seed, config.arch, device),
                                      config.memory)

    def distilled(classes: list[int], seen: list[int]):
        step = {**overrides, "pretrain_classes": tuple(sorted(seen))} if pretrained else overrides
        path = distil(memory, config.dataset, config.memory, seed, step, device, progress=False, log=log,
                      classes=tuple(classes))
        synset = load_synset(path, expect_dataset=config.dataset)
        return synset.images, synset.labels, stored_per_class(synset)

    return distilled


def _avalanche_dataset(images: torch.Tensor, labels: torch.Tensor):
    from avalanche.benchmarks.utils import as_classification_dataset
    from torch.utils.data import TensorDataset

    dataset = TensorDataset(images, labels)
    dataset.targets = labels.tolist()
    return as_classification_dataset(dataset)


def _plugins():
    """Avalanche classes, imported on first use (the import is slow and noisy)."""
    from avalanche.training.plugins import GDumbPlugin, SupervisedPlugin
    from avalanche.training.storage_policy import ExemplarsBuffer

    class FixedMemoryBuffer(ExemplarsBuffer):
        """A storage policy holding pre-made per-class memories: when an experience arrives,
        ``make(classes)`` gives the images of its classes; the buffer holds every seen class's."""

        def __init__(self, make, per_class: int, num_classes: int):
            super().__init__(per_class * num_classes)
            self.make, self.per_class = make, per_class
            self.stored_per_class = per_class
            self.images: list[torch.Tensor] = []
            self.labels: list[torch.Tensor] = []
            self.seen: set[int] = set()

        def post_adapt(self, agent, exp):
            self.seen |= set(exp.classes_in_this_experience)
            x, y, self.stored_per_class = self.make(sorted(exp.classes_in_this_experience), sorted(self.seen))
            self.images.append(x.cpu())
            self.labels.append(y.cpu())
            self.buffer = _avalanche_dataset(torch.cat(self.images), torch.cat(self.labels))

        def resize(self, strategy, new_size):
            raise HarnessError("a fixed per-class memory cannot be resized")

    class MemoryGDumb(GDumbPlugin):
        """Avalanche's GDumb (reset the model, train only on the memory) with a given storage policy,
        updated through ``post_adapt`` (the deprecated ``update`` warns once per experience)."""

        def __init__(self, storage_policy):
            super().__init__(storage_policy.max_size)
            self.storage_policy = storage_policy

        def after_train_dataset_adaptation(self, strategy, **kwargs):
            self.storage_policy.post_adapt(strategy, strategy.experience)
            strategy.adapted_dataset = self.storage_policy.buffer

    class ProtocolDraws(SupervisedPlugin):
        """Training draws keyed by (seed, step) alone, whatever ran before (e.g. a distillation):
        batch order from the global generator, reseeded once the memory is made; the protocol's
        augmentation (DSA or DC) on every mini-batch, per-sample draws from its own generator."""

        def __init__(self, cfg: Augmentation | None, seed: int):
            super().__init__()
            self.cfg, self.seed = cfg, seed
            self.generator = torch.Generator()

        def before_training_exp(self, strategy, **kwargs):
            step = strategy.experience.current_experience
            torch.manual_seed(mix_seed(self.seed, 1, step))
            self.generator.manual_seed(mix_seed(self.seed, 2, step))

        def before_forward(self, strategy, **kwargs):
            if self.cfg is not None:
                strategy.mbatch[0] = self.cfg.apply(strategy.mb_x, self.generator)

    return FixedMemoryBuffer, MemoryGDumb, ProtocolDraws


def storage_policy(memory: str, config: CLConfig, num_classes: int, make):
    from avalanche.training.storage_policy import ClassBalancedBuffer

    FixedMemoryBuffer, _, _ = _plugins()
    if memory == RANDOM:  # fixed per-class capacity: max_size / total_num_classes = memory
        return ClassBalancedBuffer(config.memory * num_classes, adaptive_size=False, total_num_classes=num_classes)
    return FixedMemoryBuffer(make, config.memory, num_classes)


def gdumb_strategy(config: CLConfig, info, seed: int, policy, probes=()):
    """Avalanche's GDumb: a plain supervised strategy + GDumbPlugin, trained under the protocol."""
    from avalanche.evaluation.metrics import accuracy_metrics
    from avalanche.training import Naive
    from avalanche.training.plugins import EvaluationPlugin, LRSchedulerPlugin

    _, MemoryGDumb, ProtocolDraws = _plugins()
    protocol, device = config.protocol, torch.device(config.device)
    model = init_model(config.arch, info, seed, device)
    optimizer, scheduler = make_optimizer(model, protocol, steps_per_epoch=1)  # Avalanche steps it per epoch
    with warnings.catch_warnings():  # "No loggers specified": the records are the log
        warnings.simplefilter("ignore", UserWarning)
        evaluator = EvaluationPlugin(accuracy_metrics(experience=True, stream=True), loggers=[])
    return Naive(model=model, optimizer=optimizer, criterion=torch.nn.CrossEntropyLoss(),
                 train_mb_size=protocol.batch_size, train_epochs=protocol.epochs, eval_mb_size=1000, device=device,
                 plugins=[MemoryGDumb(policy), LRSchedulerPlugin(scheduler),
                          ProtocolDraws(protocol.augmentation, seed), *probes],
                 evaluator=evaluator)


def check_config(config: CLConfig, num_classes: int) -> None:
    if config.protocol.label_type != "hard":
        raise HarnessError("GDumb trains on hard labels: use a protocol with label_type 'hard'")
    if config.steps < 1 or num_classes % config.steps:
        divisors = [d for d in range(1, num_classes + 1) if num_classes % d == 0]
        raise HarnessError(f"--steps {config.steps} does not split {num_classes} classes evenly: "
                           f"use one of {', '.join(map(str, divisors))}")
    if config.memory < 1 or config.seeds < 1:
        raise HarnessError(f"--memory and --seeds must be at least 1, got {config.memory} and {config.seeds}")
    if not config.memories and not config.synsets:
        raise HarnessError("no memories to compare: give at least one baseline, distiller or set")


def cells_for(config: CLConfig, info, memory: str, seed: int, order: list[int],
              distiller_config: dict | None, pretrained: bool = False) -> list[dict]:
    """One record key per step. A memory built with pretrained networks says they saw the classes
    seen so far only (so records made before that, with networks trained on every class, are not reused)."""
    seen_only = {"pretrained_on": "classes seen so far"} if pretrained else {}
    common = {"task": TASK, "memory": memory, "distiller": None if memory in BASELINES else memory,
              "distiller_config": distiller_config, **seen_only, "dataset": config.dataset, "steps": config.steps,
              "memory_per_class": config.memory, "seed": seed, "class_order": order, **arch_cell(config.arch, info),
              "protocol_name": config.protocol.name, "protocol_fingerprint": config.protocol.fingerprint()}
    return [{**common, "step": step} for step in range(1, config.steps + 1)]


def _stream_accuracy(results: dict) -> tuple[float, list[float]]:
    """Avalanche's accuracy over the evaluated stream and per experience (in %)."""
    stream = [v for k, v in results.items() if k.startswith("Top1_Acc_Stream/eval_phase/test_stream")]
    per_exp = sorted((k, v) for k, v in results.items() if k.startswith("Top1_Acc_Exp/eval_phase/test_stream"))
    return 100.0 * stream[0], [100.0 * v for _, v in per_exp]


def run(config: CLConfig, store: RecordStore | None = None, log=print, probes=()) -> list[dict]:
    """Train and test GDumb with every memory and seed; returns the records of all wanted cells.

    Each (memory, seed) is a unit of ``config.steps`` trainings, run in ``config.workers`` processes
    (:mod:`harness.parallel`; 0: one per CPU core). ``probes``: extra Avalanche plugins (tests use them
    to watch the strategy; they run in this process).
    """
    store = store or RecordStore(records_path(TASK))
    info = load_dataset(config.dataset, "train").info
    check_config(config, info.num_classes)
    config = replace(config, protocol=config.protocol.for_dataset(info))  # DSA without flip on digits
    plans = {m: ({}, None, False) if m in BASELINES else distiller_plan(m, config.distiller_settings)
             for m in config.memories}
    plans.update(given_memories(config))
    plans.update(equal_budget_memories(plans, tuple(plans), config.distiller_settings))
    cells = {(m, s): cells_for(config, info, m, s, class_order(info.num_classes, s), plans[m][1], plans[m][2])
             for s in range(config.seeds) for m in plans}
    work = [unit for unit, unit_cells in cells.items() if not all(store.has(c) for c in unit_cells)]
    workers = 1 if probes else (config.workers or auto_workers(config.device, len(work)))
    log(f"continual: {len(cells) * config.steps} GDumb trainings from scratch ({len(plans)} memory kind(s) x "
        f"{config.seeds} seed(s) x {config.steps} steps), {len(work) * config.steps} of them left, "
        f"{config.protocol.epochs} epochs each, on a memory that grows with the seen classes (step t holds t "
        f"times step 1's images), {workers} (memory, seed) unit(s) at a time; the progress bar weighs each step "
        f"by its memory, so its time estimate holds after the first units")
    # the bar counts recorded steps, each weighed by its memory (step t trains on t x step 1's images)
    todo = {cell_key(c): c["step"] for unit in work for c in cells[unit]}
    bar = tqdm(total=sum(todo.values()), desc="continual", unit="step-1 units", disable=not config.progress)

    def count_recorded() -> None:
        bar.update(sum(todo.get(r["key"], 0) for r in store.load()) - bar.n)

    # a worker process opens the store by its path and works quietly; this process's own log is not sent to it
    in_process = workers == 1
    units = [(config, memory, seed, plans[memory], cells[memory, seed], store if in_process else str(store.path),
              log if in_process else None, probes, count_recorded if in_process else None) for memory, seed in work]
    run_units(train_memory, units, workers, count_recorded)
    bar.close()
    keys = {cell_key(c) for unit_cells in cells.values() for c in unit_cells}
    return [r for r in store.load() if r["key"] in keys]


def train_memory(config: CLConfig, memory: str, seed: int, plan: tuple[dict, dict | None, bool], cells: list[dict],
                 store: RecordStore | str, log=None, probes=(), recorded: Callable[[], None] | None = None) -> None:
    """One unit: GDumb through every step with one memory and seed, recording each unrecorded step
    (``store``: the store, or its path in a worker process; ``log``: None for quiet; ``recorded()``
    after each record, in this process)."""
    from avalanche.benchmarks import class_incremental_benchmark

    quiet_avalanche()
    store = store if isinstance(store, RecordStore) else RecordStore(Path(store))
    train, test = load_dataset(config.dataset, "train"), load_dataset(config.dataset, "test")
    info = train.info
    order = cells[0]["class_order"]
    overrides, _, pretrained = plan
    bench = class_incremental_benchmark({"train": _avalanche_dataset(train.normalised(), train.labels),
                                         "test": _avalanche_dataset(test.normalised(), test.labels)},
                                        class_order=order, num_experiences=config.steps)
    policy = storage_policy(memory, config, info.num_classes,
                            memory_maker(memory, config, train, seed, overrides, pretrained,
                                          log or (lambda message: None)))
    strategy = gdumb_strategy(config, info, seed, policy, probes)
    device = torch.device(config.device)
    for t, (exp, cell) in enumerate(zip(bench.train_stream, cells)):
        torch.manual_seed(mix_seed(seed, t, -8))  # the reservoir's draws, per step
        if store.has(cell):  # finished: only refill the memory, so later steps see the same one
            policy.post_adapt(strategy, exp)
            continue
        with measure(device) as m, warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            strategy.train(exp)
            accuracy, per_exp = _stream_accuracy(strategy.eval(bench.test_stream[:t + 1]))
        counts = torch.bincount(torch.tensor(list(policy.buffer.targets)), minlength=info.num_classes)
        seen = order[:(t + 1) * info.num_classes // config.steps]
        store.append(cell, {"accuracy": accuracy, "experience_accuracy": per_exp, "seen_classes": seen,
                            "memory_class_counts": counts.tolist(),
                            "memory_decoded_per_class": int(counts[seen].max()),
                            "memory_stored_per_class": getattr(policy, "stored_per_class", config.memory),
                            "memory_stored_bytes_per_class": getattr(policy, "stored_per_class", config.memory)
                            * (info.channels * info.size**2 * 4 + 8)},  # float32 images, int64 labels
                     config.protocol.as_dict(), {**m.as_dict(), "device": str(device),
                                                 "threads": torch.get_num_threads()},  # 1 in a worker of 2 cores
                     extra={"memory_kind": _describe(memory, overrides), "dataset_source": info.source,
                            "distiller_settings": dict(config.distiller_settings),
                            **({"pretrain_classes": sorted(seen)} if pretrained else {})})
        if recorded is not None:
            recorded()


def _describe(memory: str, overrides: dict) -> str:
    if "synset" in overrides:
        return f"the given set {Path(overrides['synset']).name}: its images of the classes seen so far"
    if memory == RANDOM:
        return "Avalanche ClassBalancedBuffer (class-balanced reservoir), fixed per-class capacity"
    if memory == HERDING:
        return "herding in a random ConvNet's embedding, per arriving class"
    return f"distiller '{memory}' run on the arriving classes' training images only"


