"""Bring your own set: turn images and labels made by any code into a harness artifact.

:func:`import_set` reads a file or folder (:mod:`harness.importing.readers`: formats and the
public codes' layouts), :func:`synthetic_set` checks tensors against the dataset and puts them in
its normalised space, and the artifact is written with ``distiller: external`` and the origin
(file name, sha256, layout, experiment index, the user's description) in its manifest.

Checks, each refused in one line: images [N, C, H, W] (or [N, H, W] for one channel) of the
dataset's shape, finite; hard labels (integers) in 0..K-1, or soft labels (an [N, K] matrix whose
rows are probabilities), one per image; at least one image. Classes may hold different numbers of
images: the manifest lists them per class (``class_counts``, ``stored_class_counts``) and ``ipc``
is the largest class's stored count, so a control drawn at that IPC never has less storage than the set.

The value range (``value_range``; the manifest's ``value_range`` says which was taken and why):

* ``raw``: pixels in [0, 1] (uint8 images: 0-255, divided by 255), normalised with the harness's
  registered mean/std;
* ``normalized``: the dataset's normalised space, (pixel - mean) / std. For the dcdm layout the
  mean/std are the DC/DSA/DM code's (its ``utils.get_dataset`` constants, :data:`SOURCE_NORMALISATION`:
  MNIST's, CIFAR-10's and CIFAR-100's are the harness's own; Fashion-MNIST's mean is 0.2861 there,
  0.2860 here), mapped to the harness's space through pixels (x * std_source + mean_source, then
  (- mean) / std); for any other source they are the harness's registered ones;
* ``auto``: ``raw`` when every value lies in [-0.05, 1.05] (a [0, 1] set, with room for the
  small overshoot of one clamped before its last update: a set saved by a run of the NCFM
  authors' code on Fashion-MNIST spanned [-0.015, 1.015]), else ``normalized``. The rule holds because the normalised space puts a
  black pixel at -mean/std (MNIST -0.42, Fashion-MNIST -0.81, CIFAR-10 below -2): a normalised
  set of images with any dark pixel goes below -0.05. A set it misreads (e.g. normalised images
  with no dark pixel at all) needs ``--range``.

A multi-formation set (``multi_formation`` = rho > 1) gives its stored images; each is decoded into
rho^2 training images by :func:`harness.formation.decode`, as the harness decodes its own, and
the manifest records rho (``ipc`` counts stored images, ``images_per_class`` decoded ones).
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.data import DatasetInfo
from harness.data.core import DATASETS, base_name, registered_info
from harness.errors import HarnessError
from harness.formation import check_factor, decode, formation_meta
from harness.importing.readers import LAYOUTS, read_source
from harness.paths import output_root
from harness.synset import SyntheticSet, save_synset

EXTERNAL = "external"
RANGES = ("auto", "raw", "normalized")
RAW_SLACK = 0.05
# (mean, std) the DC/DSA/DM code's utils.get_dataset normalises with (VICO-UoE/DatasetCondensation).
SOURCE_NORMALISATION = {"mnist": ((0.1307,), (0.3081,)), "fashion-mnist": ((0.2861,), (0.3530,)),
                        "cifar10": ((0.4914, 0.4822, 0.4465), (0.2023, 0.1994, 0.2010)),
                        "cifar100": ((0.5071, 0.4866, 0.4409), (0.2673, 0.2564, 0.2762))}


@dataclass(frozen=True)
class ImportOptions:
    layout: str = "auto"  # auto, ncfm, dcdm (LAYOUTS); npz, safetensors and PNG folders are recognised by format
    index: int | None = None  # the experiment of a dcdm file
    value_range: str = "auto"  # auto, raw, normalized (RANGES)
    multi_formation: int = 1  # rho: the images are stored images, each decoded into rho^2
    name: str | None = None  # the set's name in reports (default: from the file name)
    source: str = ""  # the user's description of where the set comes from


def dataset_info(dataset: str) -> DatasetInfo:
    """The registered dataset (unknown names get "did you mean"); variants are refused."""
    DATASETS.get(base_name(dataset))
    if base_name(dataset) != dataset:
        raise HarnessError(f"import into the balanced dataset '{base_name(dataset)}', not its variant '{dataset}'")
    return registered_info(dataset)


def _tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, np.ndarray):
        if x.dtype.kind not in "biuf":
            raise HarnessError(f"the {what} are a {x.dtype} array: give numbers")
        x = torch.from_numpy(np.ascontiguousarray(x))
    if not isinstance(x, torch.Tensor):
        raise HarnessError(f"the {what} are a {type(x).__name__}, not a tensor or array")
    return x.detach().cpu()


def _images(images, info: DatasetInfo) -> torch.Tensor:
    x = _tensor(images, "images")
    if x.dim() == 3 and info.channels == 1:
        x = x.unsqueeze(1)
    if x.dim() != 4 or tuple(x.shape[1:]) != info.image_shape:
        raise HarnessError(f"the images are {list(x.shape)} but {info.name} needs [N, {info.channels}, {info.size}, "
                           f"{info.size}] (channels first; transpose [N, H, W, C] arrays)")
    if len(x) == 0:
        raise HarnessError("the source holds no images")
    if x.dtype != torch.uint8 and not x.is_floating_point():
        raise HarnessError(f"the images are {x.dtype}: give float values or uint8 pixels")
    if x.is_floating_point() and not torch.isfinite(x).all():
        raise HarnessError(f"the images hold {int((~torch.isfinite(x)).sum())} NaN or infinite values")
    return x


def _labels(labels, soft, n: int, info: DatasetInfo) -> tuple[torch.Tensor, torch.Tensor | None]:
    k = info.num_classes
    if soft is not None:
        soft = _tensor(soft, "soft labels").double()
        if soft.shape != (n, k):
            raise HarnessError(f"the soft labels are {list(soft.shape)} but {n} images of {info.name} need [{n}, {k}]")
        if not torch.isfinite(soft).all() or (soft < 0).any() or not torch.allclose(soft.sum(1), soft.new_ones(n),
                                                                                      atol=1e-3):
            raise HarnessError("the soft labels are not probabilities (each row non-negative and summing to 1): "
                               "apply softmax to logits first")
    if labels is None:
        return soft.argmax(1), soft.float()
    y = _tensor(labels, "labels")
    if y.dim() != 1 or len(y) != n:
        raise HarnessError(f"{n} images but labels of shape {list(y.shape)}: give one class index per image")
    if y.is_floating_point():
        if not torch.isfinite(y).all() or (y != y.round()).any():
            raise HarnessError("the labels are not whole numbers: give class indices (or a soft-label matrix)")
    if len(y) and (y.min() < 0 or y.max() >= k):
        raise HarnessError(f"labels run from {int(y.min())} to {int(y.max())}, outside {info.name}'s classes "
                           f"0..{k - 1}")
    return y.long(), None if soft is None else soft.float()


def dcdm_normalisation(info: DatasetInfo) -> tuple[tuple, tuple] | None:
    """(mean, std) the DC/DSA/DM code normalises ``info``'s dataset with; None when not known."""
    return SOURCE_NORMALISATION.get(info.name.removesuffix("-tiny"))  # a smoke subset shares its dataset's space


def _normalised(x: torch.Tensor, info: DatasetInfo, value_range: str,
                source_stats: tuple[tuple, tuple] | None) -> tuple[torch.Tensor, dict]:
    """``x`` in the harness's normalised space, and the manifest's account of the range taken;
    ``source_stats``: the (mean, std) a normalised ``x`` was made with (None: the harness's)."""
    if value_range not in RANGES:
        raise HarnessError(f"unknown --range '{value_range}': use one of {', '.join(RANGES)}")
    shape = (1, -1, 1, 1)
    mean, std = torch.tensor(info.mean).view(shape), torch.tensor(info.std).view(shape)
    if x.dtype == torch.uint8:
        if value_range == "normalized":
            raise HarnessError("uint8 images are pixels 0-255, not normalised values: drop --range normalized")
        return (x.float() / 255 - mean) / std, {"taken": "raw", "why": "uint8 pixels 0-255, divided by 255"}
    x = x.float()
    lo, hi = float(x.min()), float(x.max())
    account = {"min": round(lo, 4), "max": round(hi, 4)}
    if value_range == "auto":
        black = min(-m / s for m, s in zip(info.mean, info.std))
        fits = lo >= -RAW_SLACK and hi <= 1 + RAW_SLACK
        value_range = "raw" if fits else "normalized"
        account["why"] = (f"auto: values span [{lo:.3f}, {hi:.3f}], " + (
            f"within [0, 1] (+-{RAW_SLACK}); in {info.name}'s normalised space a black pixel is {black:.2f}" if fits
            else f"outside [0, 1] (+-{RAW_SLACK}): the dataset's normalised space"))
    else:
        account["why"] = f"--range {value_range}"
    account["taken"] = value_range
    if value_range == "raw":
        return (x - mean) / std, account
    src_mean, src_std = source_stats or (info.mean, info.std)
    pixels = x * torch.tensor(src_std).view(shape) + torch.tensor(src_mean).view(shape)
    out = (pixels - mean) / std
    account.update(source_mean=list(src_mean), source_std=list(src_std), harness_mean=list(info.mean),
                   harness_std=list(info.std), largest_change=round(float((out - x).abs().max()), 6),
                   constants="DC/DSA/DM's utils.get_dataset" if source_stats else "the harness's registered ones")
    return out, account


def synthetic_set(images, labels, info: DatasetInfo, soft_labels=None, value_range: str = "auto",
                  multi_formation: int = 1, meta: dict | None = None,
                  source_stats: tuple[tuple, tuple] | None = None) -> SyntheticSet:
    """Check outside images and labels against ``info`` and make a :class:`SyntheticSet` of them
    (normalised, decoded when multi-formation); ``meta`` joins the manifest; ``source_stats`` as
    :func:`_normalised`'s."""
    check_factor(multi_formation, info.size, "--multi-formation")
    x = _images(images, info)
    y, soft = _labels(labels, soft_labels, len(x), info)
    x, account = _normalised(x, info, value_range, source_stats)
    stored = torch.bincount(y, minlength=info.num_classes)
    rho = multi_formation
    x, y = decode(x, rho), y.repeat_interleave(rho**2)
    soft = None if soft is None else soft.repeat_interleave(rho**2, 0)
    ipc = int(stored.max())
    extra = formation_meta(ipc, rho) if rho > 1 else {}
    return SyntheticSet(x.contiguous(), y, info, ipc, soft, meta={
        "distiller": EXTERNAL, "config": {}, "seed": None, "value_range": account,
        "stored_class_counts": stored.tolist(), "class_counts": (stored * rho**2).tolist(), **extra, **(meta or {})})


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "set"


def read_outside_set(source: str | Path, dataset: str, options: ImportOptions = ImportOptions()) -> tuple[SyntheticSet, str]:
    """Read ``source`` and check it against ``dataset``, writing nothing: the set and the file stem
    of its default artifact (``<name>-<hash of the import settings>``)."""
    info = dataset_info(dataset)
    source = Path(source)
    if options.layout not in LAYOUTS:
        raise HarnessError(f"unknown layout '{options.layout}': use one of {', '.join(LAYOUTS)}")
    raw = read_source(source, info, options.layout, options.index)
    stem = source.name if source.is_dir() else source.stem
    name = options.name or (stem if raw.index is None else f"{stem}[{raw.index}]")
    config = {"source_sha256": raw.sha256, "layout": raw.layout, "index": raw.index,
              "range": options.value_range, "multi_formation": options.multi_formation}
    origin = {"file": source.name, "format": raw.file_format, "sha256": raw.sha256, "layout": raw.layout,
              "index": raw.index, "source": options.source}
    synset = synthetic_set(raw.images, raw.labels, info, raw.soft_labels, options.value_range,
                           options.multi_formation, {"name": name, "config": config, "origin": origin},
                           dcdm_normalisation(info) if raw.layout == "dcdm" else None)
    key = hashlib.sha256(json.dumps({**config, "name": name}, sort_keys=True).encode()).hexdigest()[:10]
    return synset, f"{_slug(name)}-{key}"


def import_set(source: str | Path, dataset: str, options: ImportOptions = ImportOptions(),
               artifact: Path | None = None) -> Path:
    """Read and check ``source`` (:func:`read_outside_set`), then write the artifact (default
    ``<output>/synsets/<dataset>/external/<name>-<hash>.safetensors``); returns its path. Every
    check runs before anything is written."""
    synset, stem = read_outside_set(source, dataset, options)
    return save_synset(synset, artifact or default_artifact(synset, stem))


def default_artifact(synset: SyntheticSet, stem: str) -> Path:
    """Where an imported set goes unless told: ``<output>/synsets/<dataset>/external/<stem>.safetensors``."""
    return output_root() / "synsets" / synset.info.name / EXTERNAL / f"{stem}.safetensors"


__all__ = ["EXTERNAL", "ImportOptions", "RANGES", "LAYOUTS", "default_artifact", "import_set", "read_outside_set", "synthetic_set", "dataset_info",
           "SOURCE_NORMALISATION"]
