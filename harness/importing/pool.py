"""Bring your own pretrained networks: a pool made by other code, for every distiller that loads one
(``pretrain=<pool name>``: NCFM's and CSDM's hybrid extractor, the critics, the selection embedding).

Layout ``ncfm``: the folder the NCFM authors' ``pretrain/pretrain_script.py`` writes (their
``pretrain_dir``): ``premodel<k>_init.pth.tar`` and ``premodel<k>_trained.pth.tar`` for k = 0..K-1,
state dicts of their ``models/convnet.py`` ConvNet (saved from DistributedDataParallel, so each
name may start with ``module.``), read with ``torch.load(weights_only=True)``. Their
``layers.conv.<d>`` and ``layers.norm.<d>`` are the harness ConvNet's d-th convolution and the
normalisation after it (:func:`convnet_names`), ``classifier`` is the same layer; an ``args.log``
beside them (their record of how they trained) is kept in the pool's manifest.

Every check runs before anything is written: the folder holds pairs 0..K-1 and nothing half
(an init without its trained file, a gap in k), each file holds tensors only, finite, and loads
into the harness's ``arch`` for the dataset with no missing, extra or mis-shaped weight. Then each
network's initial and final weights go to the pretrained cache under the pool's name
(:class:`harness.pretrained.ImportedPool`) with the final network's test accuracy, and the pool's
manifest is written last: a pool is importable again until it is there.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch

from harness.checkpoint import atomic_save_file, atomic_write_text
from harness.data import load_dataset
from harness.data.core import registered_info
from harness.errors import HarnessError
from harness.models import build_model
from harness.paths import cache_dir
from harness.pretrained import IMPORTED_PREFIX, ImportedPool, imported_pool, pretrained_dir
from harness.provenance import environment
from harness.synset import sha256_file
from harness.train import test_model

POOL_LAYOUTS = ("ncfm",)
NCFM_FILE = re.compile(r"premodel(\d+)_(init|trained)\.pth\.tar")


def convnet_names(harness_state: dict) -> dict[str, str]:
    """Harness ConvNet weight name -> the NCFM authors' (``features.<i>`` is the d-th convolution
    when it is the d-th 4-dimensional weight, ``features.<i+1>`` the normalisation after it)."""
    convs = [name.split(".")[1] for name in harness_state if name.startswith("features.") and harness_state[name].dim() == 4]
    names = {f"classifier.{p}": f"classifier.{p}" for p in ("weight", "bias")}
    for d, i in enumerate(convs):
        for p in ("weight", "bias"):
            names[f"features.{i}.{p}"] = f"layers.conv.{d}.{p}"
            names[f"features.{int(i) + 1}.{p}"] = f"layers.norm.{d}.{p}"
    return names


def _read_state(path: Path) -> dict[str, torch.Tensor]:
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a pickle that holds more than tensors, or not a checkpoint at all
        raise HarnessError(f"{path} is not a tensors-only checkpoint (torch.load weights_only=True: "
                           f"{str(err).splitlines()[0][:120]}): give the state dicts their pretrain script saved")
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise HarnessError(f"{path} holds no state dict of tensors: give the state dicts their pretrain script saved")
    return {k.removeprefix("module."): v for k, v in state.items()}


def _as_harness(state: dict[str, torch.Tensor], model: torch.nn.Module, path: Path, arch: str) -> dict:
    """Their state as the harness model's, or a one-line error naming the first weight that differs."""
    ours = model.state_dict()
    names = convnet_names(ours)
    mapped = {ours_name: state.get(their_name) for ours_name, their_name in names.items()}
    missing = [names[n] for n, v in mapped.items() if v is None]
    extra = sorted(set(state) - set(names.values()))
    wrong = [f"{names[n]} {list(v.shape)} (the harness's {list(ours[n].shape)})" for n, v in mapped.items()
             if v is not None and v.shape != ours[n].shape]
    if len(names) != len(ours) or missing or extra or wrong:
        what = (f"lacks {missing[0]}" if missing else f"has {extra[0]}, which the harness's {arch} does not" if extra
                else f"holds {wrong[0]}" if wrong else f"is not a ConvNet the {arch} layout maps")
        raise HarnessError(f"{path} does not fit the harness's {arch} for this dataset: it {what}; import a pool of "
                           f"the same architecture (--arch), depth, width and image size")
    bad = [n for n, v in mapped.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise HarnessError(f"{path}: {names[bad[0]]} holds NaN or infinite values: re-export the pool")
    return {n: v.to(ours[n].dtype).contiguous() for n, v in mapped.items()}


def read_ncfm_pool(folder: Path, dataset: str, arch: str) -> tuple[list[tuple[dict, dict]], list[tuple[str, str]], str]:
    """(initial, final) harness state dicts per network, (file name, sha256) of each file read, and
    their ``args.log`` text ('' if absent); every check of the module docstring, nothing written."""
    folder = Path(folder)
    if not folder.is_dir():
        raise HarnessError(f"{folder} is not a folder: give the folder their pretrain script wrote (pretrain_dir)")
    found: dict[int, dict[str, Path]] = {}
    for path in folder.iterdir():
        match = NCFM_FILE.fullmatch(path.name)
        if match:
            found.setdefault(int(match[1]), {})[match[2]] = path
    if not found:
        raise HarnessError(f"{folder} holds no premodel<k>_init.pth.tar / premodel<k>_trained.pth.tar: give the "
                           f"folder their pretrain script wrote")
    count = max(found) + 1
    for k in range(count):
        lacking = [stage for stage in ("init", "trained") if stage not in found.get(k, {})]
        if lacking:
            raise HarnessError(f"{folder} lacks premodel{k}_{lacking[0]}.pth.tar (it has networks up to {count - 1}): "
                               f"a pool is pairs 0..K-1; finish or remove network {k}")
    info = registered_info(dataset)
    model = build_model(arch, info.channels, info.num_classes, info.size)
    pairs, files = [], []
    for k in range(count):
        paths = found[k]["init"], found[k]["trained"]
        pairs.append(tuple(_as_harness(_read_state(p), model, p, arch) for p in paths))
        files += [(p.name, sha256_file(p)) for p in paths]
    log = folder / "args.log"
    return pairs, files, log.read_text(errors="replace") if log.is_file() else ""


def pool_sha256(files: list[tuple[str, str]], dataset: str, arch: str) -> str:
    """The pool's identity: its files' names and sha256, and the dataset and architecture it is imported for."""
    import hashlib

    return hashlib.sha256(json.dumps([sorted(files), dataset, arch]).encode()).hexdigest()


def import_pool(folder: Path, dataset: str, arch: str = "convnet", layout: str = "ncfm", source: str = "",
                log=print) -> ImportedPool:
    """Check the pool in ``folder``, then write it to the cache (module docstring); its :class:`ImportedPool`."""
    if layout not in POOL_LAYOUTS:
        raise HarnessError(f"unknown pool layout '{layout}': use one of {', '.join(POOL_LAYOUTS)}")
    pairs, files, settings = read_ncfm_pool(folder, dataset, arch)
    digest = pool_sha256(files, dataset, arch)
    pool = ImportedPool(name=IMPORTED_PREFIX + digest[:12], sha256=digest, dataset=dataset, arch=arch,
                        available=len(pairs), layout=layout, files=tuple(files), source=source, settings=settings)
    if imported_pool(pool.name) is not None:
        log(f"{pool.name} is already imported (the same files): nothing written")
        return pool
    test = load_dataset(dataset, "test")
    for k, (init, final) in enumerate(pairs):
        net = pretrained_dir(dataset, arch, k, pool)
        model = build_model(arch, test.info.channels, test.info.num_classes, test.info.size)
        model.load_state_dict(final)
        accuracy = test_model(model.eval(), test)["accuracy"]
        log(f"network {k}: {files[2 * k][0]}, {files[2 * k + 1][0]}; final weights {accuracy:.2f}% on the {dataset} test split")
        atomic_save_file(init, net / "init.safetensors")
        atomic_write_text(net / "manifest.json", json.dumps({
            "dataset": dataset, "arch": arch, "seed": k, **pool.describe(), "files": files[2 * k: 2 * k + 2],
            "test_accuracy": accuracy, **environment()}, indent=2, default=str))
        atomic_save_file(final, net / "final.safetensors")
    manifest = cache_dir("pretrained", "imported") / f"{pool.name}.json"
    atomic_write_text(manifest, json.dumps(pool.as_dict(), indent=2))  # last: the whole pool is there
    return pool
