"""Evaluate a synthetic set: train fresh models (architectures x seeds), test on the real test split.

One record per (architecture, seed) cell, appended as soon as it finishes; cells already in the
store are skipped, so an interrupted evaluation continues where it stopped.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import torch
from tqdm.auto import tqdm

from harness.data import load_dataset
from harness.metrics.longtail import shot_group_accuracy
from harness.models.fingerprint import arch_cell
from harness.multiseed import seed_groups, train_and_test_seeds
from harness.protocol import EvalProtocol
from harness.provenance import measure
from harness.records import RecordStore
from harness.speed import compiles
from harness.synset import SyntheticSet, decoded_per_class, set_label, stored_bytes


def synset_cell(synset: SyntheticSet, sha256: str, task: str) -> dict:
    """The identifying fields shared by every record about one synthetic set."""
    return {
        "task": task,
        "distiller": set_label(synset),  # an imported set by its source name
        "dataset": synset.info.name,
        "imbalance": synset.info.imbalance,
        "ipc": synset.ipc,
        "distill_seed": synset.meta.get("seed"),
        "synset_sha256": sha256,
    }


def result_base(synset: SyntheticSet, sha256: str, protocol: EvalProtocol, task: str = "evaluate",
                cell_extra: dict | None = None) -> dict:
    """A result cell without its (arch, seed): add ``arch`` and ``seed`` to get the full cell.
    The protocol is named as run on the set's dataset (:meth:`EvalProtocol.for_dataset`)."""
    protocol = protocol.for_dataset(synset.info)
    return {**synset_cell(synset, sha256, task), **(cell_extra or {}),
            "protocol_name": protocol.name, "protocol_fingerprint": protocol.fingerprint()}


def evaluate_synset(synset: SyntheticSet, sha256: str, archs: list[str], seeds: list[int],
                    protocol: EvalProtocol, store: RecordStore, device="cpu", task: str = "evaluate",
                    progress: bool = True, cell_extra: dict | None = None, bar=None,
                    on_cell: Callable[[str, int], None] | None = None) -> list[dict]:
    """Train/test every missing (arch, seed) cell and return all of this set's records for them.
    ``bar``: a run-wide progress bar (in model-epochs) to advance instead of this set's own;
    ``on_cell(arch, seed)`` after each cell is recorded."""
    protocol = protocol.for_dataset(synset.info)
    test = load_dataset(synset.info.name, "test", imbalance=synset.info.imbalance)
    targets = synset.targets(protocol.label_type)
    base = result_base(synset, sha256, protocol, task, cell_extra)
    long_tailed = synset.info.imbalance > 1  # many/medium/few-shot groups by training class size
    train_counts = load_dataset(synset.info.name, "train", imbalance=synset.info.imbalance).class_counts() \
        if long_tailed else None
    compiled = compiles(-(-len(synset.images) // protocol.batch_size) * protocol.epochs)  # same maths either way
    todo = [(a, s) for a in archs for s in seeds if not store.has({**base, **arch_cell(a, test.info), "seed": s})]
    own_bar = bar is None
    if own_bar:
        bar = tqdm(total=len(todo) * protocol.epochs, desc=f"evaluate {base['distiller']}", unit="model-epoch",
                   disable=not progress or not todo)
    for arch in archs:  # seeds of one architecture train together where it batches (harness.multiseed)
        for group in seed_groups(arch, test.info, [s for a, s in todo if a == arch], device):
            bar.set_postfix(arch=arch, seeds=",".join(map(str, group)), refresh=False)
            with measure(device) as m:
                results = train_and_test_seeds(arch, synset.images, targets, test, protocol, group,
                                               torch.device(device), bar)
            for seed, metrics in zip(group, results):
                extra = {"images_per_class": decoded_per_class(synset),  # what the model trained on
                         "stored_bytes": stored_bytes(synset)}  # what a user stores to use the set
                if long_tailed:
                    shot_metrics, groups = shot_group_accuracy(metrics["per_class_accuracy"], train_counts)
                    extra.update(groups)
                    metrics = {**metrics, **shot_metrics}
                store.append({**base, **arch_cell(arch, test.info), "seed": seed}, metrics, protocol.as_dict(),
                             {**m.as_dict(), "device": str(device), "seeds_trained_together": len(group),
                              "compiled": compiled and len(group) == 1}, extra)  # batched seeds: vmap, eager
                if on_cell is not None:
                    on_cell(arch, seed)
    if own_bar:
        bar.close()
    wanted = {(a, s) for a in archs for s in seeds}
    return [r for r in store.load() if all(r.get(k) == v for k, v in base.items())
            and (r["arch"], r["seed"]) in wanted]


def default_store(task: str) -> RecordStore:
    from harness.records import records_path

    return RecordStore(records_path(task))


def read_synset(path: str | Path, dataset: str | None = None) -> tuple[SyntheticSet, str]:
    """The verified set and its tensors' sha256; ``path`` as the user gave it (refusals name it)."""
    from harness.synset import load_synset

    synset = load_synset(path, expect_dataset=dataset)
    return synset, synset.meta["sha256"]  # verified against the file by load_synset


def evaluate_set(images, labels, dataset: str = "fashion-mnist", archs=("convnet",), protocol: str = "quick",
                 seeds: int = 3, soft_labels=None, value_range: str = "auto", multi_formation: int = 1,
                 name: str = "my-set", device: str = "cpu", progress: bool = False):
    """Tensors in, numbers out: train fresh models on ``images``/``labels`` (tensors or arrays, any
    code's; checked and normalised as ``python -m harness import`` does, :mod:`harness.importing`)
    and test each once on the real test split. Returns a pandas DataFrame with the records' columns
    (one row per architecture and seed; ``metric.accuracy`` in %). The records also go to
    ``<output>/records/evaluate.jsonl`` under ``name (imported)``, so a rerun skips finished cells."""
    import hashlib

    from harness.importing import dataset_info, synthetic_set
    from harness.protocol import PROTOCOLS
    from harness.records import records_frame

    synset = synthetic_set(images, labels, dataset_info(dataset), soft_labels, value_range, multi_formation,
                           {"name": name, "origin": {"source": "harness.evaluate_set"}})
    digest = hashlib.sha256()
    for t in (synset.images, synset.labels, synset.soft_labels):
        if t is not None:
            digest.update(t.contiguous().numpy().tobytes())
    records = evaluate_synset(synset, digest.hexdigest(), list(archs), list(range(seeds)), PROTOCOLS.get(protocol),
                              default_store("evaluate"), device, progress=progress)
    return records_frame(records)
