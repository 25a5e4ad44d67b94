"""Reference rows of the transfer table: what each architecture reaches on real data.

Two rows per architecture, so a reader can tell a set that transfers badly from a model that
cannot learn under the protocol:

- ``random-10x``: a random real subset at ``REAL_IPC_FACTOR`` x the set's IPC (the ``random``
  distiller, drawn with the evaluation seed), trained under the same protocol as the sets;
- ``full-train``: the whole training split, trained with the same recipe (optimiser, lr, batch,
  augmentation, lr x``lr_gamma`` at the same fractions) for a few epochs (the profile's
  ``full_epochs``, named in the protocol: ``<protocol>-full<E>``).

The 10x factor and the epoch counts are the harness's choice (issue: "what each model can reach");
no paper fixes them. Records go to their own task, ``transfer-reference``, so no overview or
gain over random ever pools them with distilled sets; each carries ``reference`` (the kind),
``reference_for_ipc`` (the IPC of the table it belongs to) and ``extra.images_per_class``.
"""

from __future__ import annotations

import torch

from distillers._runner import distil
from harness.data import load_dataset
from harness.evaluation import evaluate_synset, read_synset
from harness.models.fingerprint import arch_cell
from harness.protocol import EvalProtocol
from harness.provenance import measure
from harness.records import RecordStore
from harness.train import train_and_test

REFERENCE_TASK = "transfer-reference"
REAL_IPC_FACTOR = 10
KINDS = {"random-10x": f"random real subset at {REAL_IPC_FACTOR}x the IPC, the same protocol",
         "full-train": "the whole training split, the same recipe for a few epochs (named in the protocol)"}


def full_split_protocol(protocol: EvalProtocol, epochs: int) -> EvalProtocol:
    """The protocol's recipe run for ``epochs`` epochs of the full training split."""
    return protocol.with_overrides(name=f"{protocol.name}-full{epochs}", epochs=epochs)


def random_reference(dataset: str, imbalance: float, ipc: int, archs: list[str], seeds: list[int], protocol: EvalProtocol,
                     store: RecordStore, device: torch.device, progress: bool, log) -> list[dict]:
    """``random-10x`` rows: one random real subset of ``REAL_IPC_FACTOR * ipc`` per class per seed."""
    records = []
    for seed in seeds:
        path = distil("random", dataset, REAL_IPC_FACTOR * ipc, seed, {}, device, imbalance=imbalance,
                      progress=progress, log=log)
        s, sha = read_synset(path, dataset)
        records += evaluate_synset(s, sha, archs, [seed], protocol, store, device, task=REFERENCE_TASK,
                                   progress=progress, cell_extra={"reference": "random-10x",
                                                                  "reference_for_ipc": ipc})
    return records


def full_reference(dataset: str, imbalance: float, ipc: int, archs: list[str], seeds: list[int], protocol: EvalProtocol,
                   epochs: int, store: RecordStore, device: torch.device, log) -> list[dict]:
    """``full-train`` rows: each architecture trained on the whole training split for ``epochs``."""
    train = load_dataset(dataset, "train", imbalance=imbalance)
    test = load_dataset(dataset, "test", imbalance=imbalance)
    proto = full_split_protocol(protocol, epochs).for_dataset(train.info)
    base = {"task": REFERENCE_TASK, "reference": "full-train", "reference_for_ipc": ipc, "distiller": "real",
            "dataset": train.info.name, "imbalance": train.info.imbalance,
            "protocol_name": proto.name, "protocol_fingerprint": proto.fingerprint()}
    todo = [(a, s) for a in archs for s in seeds if not store.has({**base, **arch_cell(a, train.info), "seed": s})]
    images = train.normalised(device=device) if todo else None
    for arch, seed in todo:
        log(f"transfer reference: {arch} on the full {dataset} training split ({len(train)} images), "
            f"{epochs} epoch(s), seed {seed}")
        with measure(device) as m:
            metrics = train_and_test(arch, images, train.labels, test, proto, seed, device)
        store.append({**base, **arch_cell(arch, train.info), "seed": seed}, metrics, proto.as_dict(),
                     {**m.as_dict(), "device": str(device)},
                     {"images_per_class": train.class_counts(), "epochs": epochs})
    return [r for r in store.load() if all(r.get(k) == v for k, v in base.items())
            and (r["arch"], r["seed"]) in {(a, s) for a in archs for s in seeds}]
