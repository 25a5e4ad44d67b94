"""NAS ranking with a distilled set (paper sec. 6.5, after Cui et al. 2022): does a proxy set rank
NAS-Bench-201 architectures like the real data does?

K cells are sampled from the 15,625 (seeded; the list is recorded). Each is trained on the proxy
set (the distilled set, and the same-size random real subset from the ``random`` distiller at the
same IPC and seed) under one ``SearchProtocol`` (the NB201 skeleton with fewer cells than the
benchmark's N=5, a short schedule) and seeds, and scored once, after its final epoch, on a fixed
seeded sample of the real *training* split (the paper ranks on a 10k validation set; the test split
is never used to rank; the sample may share a few images with the random subset, the same ones for
every cell). Per set we report Spearman's rho and Kendall's tau between the
per-cell proxy means over seeds and the ground truth (``tasks.nas.ground_truth``), the ground
truth of the cell the proxy ranks first (ties: first in sample order), the best among the K, and
the regret (best minus top-1).

Disconnected cells (no path from input to output; their networks score chance under any training
set) are either skipped, i.e. the sample draws K connected cells, or kept; the choice is part of
the summary cell and of every record's ``extra``. Skipping is the default: kept, they are trivially
ranked last by every proxy and inflate the correlation.

One record per (set, cell, seed) with ``proxy_accuracy`` and ``ground_truth_accuracy``, and one
summary record per set (``summary: true``) with rho, tau, top-1 and best; recorded cells are
skipped on rerun. ``protocol_fingerprint`` covers both the search protocol and the ground truth.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace

import torch
from tqdm.auto import tqdm

from distillers._runner import distil
from harness.augment import mix_seed
from harness.data import load_dataset
from harness.errors import HarnessError
from harness.evaluation import read_synset
from harness.metrics.ranking import ranking_summary
from harness.protocol import EvalProtocol
from harness.provenance import measure
from harness.records import RecordStore, cell_key, records_path
from harness.registry import Registry
from harness.synset import SyntheticSet, set_label, stored_bytes
from harness.train import test_model, train_model
from tasks.nas.ground_truth import GroundTruth, MeasuredBudget, NB201Protocol
from tasks.nas.nb201 import NUM_ARCHS, is_connected, sample_archs
from tasks.nas.sources import make_ground_truth

TASK = "nas"
DISCONNECTED = ("skip", "keep")


@dataclass(frozen=True)
class SearchProtocol(NB201Protocol):
    """The search phase: an NB201 skeleton and recipe, scored on ``validation_images`` real training
    images from a fixed seeded draw (capped at the training split's size)."""

    validation_images: int = 10_000


SEARCH_PROTOCOLS: Registry[SearchProtocol] = Registry("search protocol", {
    # Paper sec. 6.5: 3 cells in total (N=1), 50 epochs, ranking on 10k real training images; the harness's
    # evaluation recipe otherwise (SGD lr 0.01, batch 256, DSA).
    "paper": SearchProtocol("nas-paper", C=16, N=1, training=EvalProtocol(name="nas-paper", epochs=50)),
    # A shared 2-core CPU: C=4, N=1, 30 epochs of batch 50 (60 steps at IPC 10), lr 0.03, DSA;
    # ranking on 2,000 real training images.
    "cpu": SearchProtocol("nas-cpu", C=4, N=1, training=EvalProtocol(name="nas-cpu", epochs=30, lr=0.03, batch_size=50),
                          validation_images=2_000),
})


@dataclass(frozen=True)
class NASConfig:
    dataset: str = "fashion-mnist"
    distiller: str = "dm"
    ipc: int = 10
    distill_seed: int = 0
    overrides: tuple[tuple[str, object], ...] = ()  # distiller settings (e.g. iterations)
    synset: str | None = None  # an artifact to use instead of distilling
    cells: int = 100  # K, the number of sampled NB201 cells
    sample_seed: int = 0
    disconnected: str = "skip"
    seeds: int = 1
    protocol: SearchProtocol = SEARCH_PROTOCOLS["cpu"]
    ground_truth: str = "shipped"  # see tasks.nas.sources.make_ground_truth
    real_ipc: int | None = None  # the larger real subset's images per class (None: REAL_IPC_FACTOR x the set's, capped)
    nb201_file: str | None = None
    gt_budget: MeasuredBudget | None = None  # with ground_truth "train": None is DEFAULT_GT_BUDGET
    device: str = "cpu"
    progress: bool = True


def sample_cells(k: int, seed: int, disconnected: str = "skip") -> list[str]:
    """The first ``k`` cells of a seeded permutation of all 15,625 (connected ones only for ``skip``)."""
    if disconnected not in DISCONNECTED:
        raise HarnessError(f"disconnected cells must be 'skip' or 'keep', not {disconnected!r}")
    pool = [a for a in sample_archs(NUM_ARCHS, seed) if disconnected == "keep" or is_connected(a)]
    if not 1 <= k <= len(pool):
        raise HarnessError(f"--cells must be between 1 and {len(pool)} (cells available with disconnected="
                           f"{disconnected}), got {k}")
    return pool[:k]


def nas_fingerprint(protocol: SearchProtocol, truth: GroundTruth) -> str:
    """One fingerprint for the search protocol and the ground truth it is compared with."""
    return hashlib.sha256(f"{protocol.fingerprint()}+{truth.fingerprint()}".encode()).hexdigest()[:12]


def record_protocol(protocol: SearchProtocol, truth: GroundTruth) -> dict:
    """The recorded protocol: the training recipe's fields at top level, the skeleton, the ground truth."""
    return {**protocol.training.as_dict(), "name": protocol.name, "C": protocol.C, "N": protocol.N,
            "validation_images": protocol.validation_images,
            "search_protocol_fingerprint": protocol.fingerprint(), "ground_truth": truth.describe()}


def validation_split(dataset: str, size: int):
    """A seeded sample (fixed seed, the same for every set and cell) of the real training split."""
    train = load_dataset(dataset, "train")
    gen = torch.Generator().manual_seed(mix_seed(0, 3))
    return train.subset(torch.randperm(len(train), generator=gen)[:min(size, len(train))].sort().values)


# The larger real subset: this many times the set's images per class. Its proxies cost in proportion
# (about 1 s per cell per 100 images under the cpu search protocol), so 5x keeps the default run
# within minutes on 2 cores; --real-ipc 100 at IPC 10 (10x) costs about 15 minutes more.
REAL_IPC_FACTOR = 5


def proxy_sets(config: NASConfig, device, log) -> tuple[int, list[tuple[SyntheticSet, str, str]]]:
    """The set's IPC and (set, sha256, path) of: the distilled set (distilled, cached, or
    ``config.synset``), the same-size random real subset, and a larger random real subset
    (``real_ipc``, default ``REAL_IPC_FACTOR`` x IPC but no more than the smallest class): real data under the
    proxy budget, the reference a distilled set is read against. Artifacts are not repeated."""
    if config.synset:
        path, given = config.synset, read_synset(config.synset, config.dataset)[0]
        ipc, seed = given.ipc, given.meta.get("seed") or 0
    else:
        path = distil(config.distiller, config.dataset, config.ipc, config.distill_seed, dict(config.overrides),
                      device, progress=config.progress, log=log)
        ipc, seed = config.ipc, config.distill_seed
    smallest = min(load_dataset(config.dataset, "train").class_counts())
    real_ipc = min(config.real_ipc or REAL_IPC_FACTOR * ipc, smallest)
    randoms = [distil("random", config.dataset, n, seed, device=device, progress=config.progress, log=log)
               for n in dict.fromkeys((ipc, real_ipc))]
    sets = {}
    for p in (path, *randoms):
        synset, sha = read_synset(p, config.dataset)
        sets.setdefault(sha, (synset, sha, str(p)))
    return ipc, list(sets.values())


def set_cell(synset: SyntheticSet, sha: str, fingerprint: str, config: NASConfig, truth: GroundTruth) -> dict:
    """The fields shared by every record about one proxy set under one protocol and ground truth.
    ``ipc`` is the experiment's (the distilled set's), so the larger real subset, whose own size is
    ``proxy_images_per_class``, lands in the same table."""
    return {"task": TASK, "distiller": set_label(synset), "dataset": config.dataset,
            "ipc": config.ipc, "proxy_images_per_class": synset.ipc, "distill_seed": synset.meta.get("seed"),
            "synset_sha256": sha, "protocol_name": config.protocol.name, "protocol_fingerprint": fingerprint,
            "ground_truth": truth.fingerprint()}


# Proxy training's cost grows with the set's size: about 1 s per cell per 100 images under the cpu
# search protocol on 2 quiet AMD EPYC cores, eager (1.09 s at 100 images, 1.91 s at 200; 2026-12-04).
SECONDS_PER_100_IMAGES = 1.0


def train_proxies(sets, archs: list[str], config: NASConfig, truth: GroundTruth, fingerprint: str,
                  store: RecordStore, device, log=print) -> None:
    """Train and score every missing (set, cell, seed); one record each, appended as it finishes.
    Says what it will train and roughly how long first; the progress bar is weighed by images."""
    protocol = config.protocol
    todo = [(synset, sha, path, arch, seed) for synset, sha, path in sets for arch in archs
            for seed in range(config.seeds)
            if not store.has({**set_cell(synset, sha, fingerprint, config, truth), "arch": arch, "seed": seed})]
    if not todo:
        return
    images = sum(len(synset.images) for synset, *_ in todo)
    seconds = images / 100 * SECONDS_PER_100_IMAGES
    estimate = (f", about {f'{seconds / 60:.0f} min' if seconds >= 90 else f'{seconds:.0f} s'} on 2 CPU cores"
                if device.type == "cpu" else "")
    total = len(archs) * len(sets) * config.seeds
    left = f"{len(todo)} of {total}" if len(todo) < total else f"{total}"
    log(f"NAS proxies: {left} models to train ({len(archs)} cells x {len(sets)} sets of "
        f"{', '.join(str(len(s.images)) for s, *_ in sets)} images x {config.seeds} seed(s)){estimate}; "
        f"each is recorded as it finishes, so a rerun continues where this one stops")
    validation = validation_split(config.dataset, protocol.validation_images)
    details = record_protocol(protocol, truth)
    bar = tqdm(total=images, desc="NAS proxies", unit="img", disable=not config.progress)
    for synset, sha, path, arch, seed in todo:
        with measure(device) as m:
            model = protocol.build(arch, synset.info, seed, device)
            train_model(model, synset.images, synset.targets(protocol.training.label_type), protocol.training, seed,
                        one_off_graph=True)  # each cell is a new graph: compiling it costs more than it saves
            proxy = test_model(model, validation)["accuracy"]
        store.append({**set_cell(synset, sha, fingerprint, config, truth), "arch": arch, "seed": seed},
                     {"proxy_accuracy": proxy, "ground_truth_accuracy": truth.accuracy(arch)}, details,
                     {**m.as_dict(), "device": str(device)},
                     extra={"synset": path, "stored_bytes": stored_bytes(synset),
                            "disconnected": config.disconnected, "connected": is_connected(arch),
                            "validation_images": len(validation), "sample_seed": config.sample_seed})
        bar.update(len(synset.images))
    bar.close()


def summary_record(base: dict, proxy: dict[str, float], truth_by_arch: dict[str, float], config: NASConfig,
                   truth: GroundTruth, store: RecordStore, extra: dict) -> dict:
    """The set's summary record (rho and tau with bootstrap intervals over cells, top-1, best),
    appended unless recorded already."""
    archs = list(proxy)
    cell = {**base, "summary": True, "k": len(archs), "sample_seed": config.sample_seed,
            "disconnected": config.disconnected, "seeds": list(range(config.seeds))}
    if not store.has(cell):
        metrics = {**ranking_summary(proxy, truth_by_arch),
                   "per_arch": {a: {"proxy": proxy[a], "ground_truth": truth_by_arch[a]} for a in archs}}
        return store.append(cell, metrics, record_protocol(config.protocol, truth), extra={**extra, "archs": archs})
    return next(r for r in store.load() if r["key"] == cell_key(cell))


def replicate_records(replicate: GroundTruth, archs: list[str], truth_by_arch: dict[str, float],
                      config: NASConfig, truth: GroundTruth, fingerprint: str, store: RecordStore) -> list[dict]:
    """The ground truth's own replicate (another seed) scored as if it were a proxy: its rank
    agreement with the ground truth is the ceiling no proxy can be trusted above."""
    replicate.prepare(archs)
    seed = replicate.describe().get("seed", replicate.describe().get("budget", {}).get("seed"))
    base = {"task": TASK, "distiller": f"ground truth, seed {seed}", "dataset": config.dataset, "ipc": config.ipc,
            "proxy_images_per_class": None, "synset_sha256": None, "protocol_name": config.protocol.name,
            "protocol_fingerprint": fingerprint, "ground_truth": truth.fingerprint()}
    for a in archs:
        cell = {**base, "arch": a, "seed": 0}
        if not store.has(cell):
            store.append(cell, {"proxy_accuracy": replicate.accuracy(a), "ground_truth_accuracy": truth_by_arch[a]},
                         record_protocol(config.protocol, truth), extra={"replicate": replicate.describe()})
    keys = {cell_key({**base, "arch": a, "seed": 0}) for a in archs}
    out = [r for r in store.load() if r["key"] in keys]
    proxy = {a: replicate.accuracy(a) for a in archs}
    return out + [summary_record(base, proxy, truth_by_arch, replace(config, seeds=1), truth, store,
                                 {"replicate": replicate.describe()})]


def run(config: NASConfig, store: RecordStore | None = None, log=print) -> list[dict]:
    """Sample, distil, measure the ground truth and (where it has one) score its replicate, train
    the proxies, summarise; returns the replicate's records and this run's per-(set, cell, seed)
    records with one summary record per set."""
    store = store or RecordStore(records_path(TASK))
    if config.seeds < 1:
        raise HarnessError(f"--seeds must be at least 1, got {config.seeds}")
    device = torch.device(config.device)
    archs = sample_cells(config.cells, config.sample_seed, config.disconnected)
    truth = make_ground_truth(config.ground_truth, config.dataset, config.nb201_file, config.gt_budget, device,
                              config.progress)
    ipc, sets = proxy_sets(config, device, log)
    training = config.protocol.training.for_dataset(sets[0][0].info)  # DSA without flip on digits
    config = replace(config, ipc=ipc, protocol=replace(config.protocol, training=training))
    truth.prepare(archs)
    fingerprint = nas_fingerprint(config.protocol, truth)
    truth_by_arch = {a: truth.accuracy(a) for a in archs}
    replicate, out = truth.replicate(), []
    if replicate is not None:  # the ceiling first: recorded even when the proxies' run is stopped early
        out += replicate_records(replicate, archs, truth_by_arch, config, truth, fingerprint, store)
    train_proxies(sets, archs, config, truth, fingerprint, store, device, log)
    records = store.load()
    for synset, sha, path in sets:
        base = set_cell(synset, sha, fingerprint, config, truth)
        keys = {cell_key({**base, "arch": a, "seed": s}) for a in archs for s in range(config.seeds)}
        mine = [r for r in records if r["key"] in keys]
        proxy = {a: sum(r["metrics"]["proxy_accuracy"] for r in mine if r["arch"] == a) / config.seeds for a in archs}
        out += mine + [summary_record(base, proxy, truth_by_arch, config, truth, store, {"synset": path})]
    return out
