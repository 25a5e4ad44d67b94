"""Run a distiller end to end into an artifact, reusing an identical artifact already on disk.

An artifact's identity is (distiller, its full config, dataset, imbalance, IPC, seed, and the class
subset when only some classes are distilled); its path is
``<output>/synsets/<dataset>/<distiller>/ipc<K>-seed<S>-<hash>.safetensors``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict
from pathlib import Path

import torch

from distillers._base import Distiller, RunContext, create_distiller
from harness.data import load_dataset
from harness.data.longtail import effective_imbalance
from harness.distributed import per_rank, rank_and_size
from harness.errors import HarnessError
from harness.paths import output_root
from harness.provenance import measure
from harness.synset import identity_config, load_synset, save_synset


def artifact_path(name: str, config: dict, dataset: str, imbalance: float, ipc: int, seed: int,
                  classes: tuple[int, ...] | None = None) -> Path:
    ident = {"distiller": name, "config": identity_config(config), "dataset": dataset, "imbalance": imbalance, "ipc": ipc,
             "seed": seed}
    if classes is not None:  # a class subset; whole-dataset artifacts keep their path
        ident["classes"] = sorted(classes)
    ident = json.dumps(ident, sort_keys=True, default=str)
    digest = hashlib.sha256(ident.encode()).hexdigest()[:10]
    return output_root() / "synsets" / dataset / name / f"ipc{ipc}-seed{seed}-{digest}.safetensors"


def planned_artifact(name: str, dataset: str, ipc: int, seed: int = 0, overrides: dict | None = None,
                     imbalance: float = 100.0, classes: tuple[int, ...] | None = None) -> tuple[Distiller, Path]:
    """The distiller :func:`distil` would run and the artifact path it would write (or reuse),
    without distilling or writing anything (a run's plan asks this)."""
    distiller = create_distiller(name, overrides)
    return distiller, artifact_path(name, asdict(distiller.config), dataset, effective_imbalance(dataset, imbalance),
                                    ipc, seed, classes)


def distil(name: str, dataset: str, ipc: int, seed: int = 0, overrides: dict | None = None,
           device: torch.device | str = "cpu", imbalance: float = 100.0, output: Path | None = None,
           resume: bool = True, progress: bool = True, log=print, classes: tuple[int, ...] | None = None) -> Path:
    """Distil and save an artifact (or return the cached one); returns its path.

    ``classes`` distils only those classes of the training split (from their images alone), e.g.
    the classes arriving in a continual-learning step.
    """
    distiller, path = planned_artifact(name, dataset, ipc, seed, overrides, imbalance, classes)
    imbalance = effective_imbalance(dataset, imbalance)
    path = (Path(output) if output else path).with_suffix(".safetensors")
    if path.exists() and output is None:
        try:
            load_synset(path, expect_dataset=dataset)
            log(f"reusing {path}")
            return path
        except HarnessError as exc:
            log(f"re-distilling: {exc}")
    data = load_dataset(dataset, "train", imbalance=imbalance)
    if classes is not None:
        unknown = sorted(set(classes) - set(range(data.info.num_classes)))
        if unknown:
            raise HarnessError(f"classes {unknown} are not in {dataset} (ids 0..{data.info.num_classes - 1})")
        data = data.class_subset(classes)
    device = torch.device(device)
    run = RunContext(seed=seed, device=device, checkpoint=path.with_suffix(".ckpt"), resume=resume,
                     progress=progress, log=log)
    with measure(device) as m:
        synset = distiller.distil(data, ipc, run)
    synset.meta.update({"timing": m.as_dict(), "device": str(device)})
    if classes is not None:
        synset.meta["classes"] = sorted(classes)
    if rank_and_size()[0] == 0:  # under torch.distributed every rank holds the gathered set
        save_synset(synset, path)
    own = per_rank(run.checkpoint)
    for leftover in (own, own.with_name(own.name + ".json")):
        leftover.unlink(missing_ok=True)
    return path
