"""The synthetic-set artifact: ``NAME.safetensors`` + ``NAME.json`` manifest with its sha256.

Images are stored float32 in the dataset's normalised space (the manifest names mean/std).
Loading verifies the checksum, the shapes and the dataset, and refuses a mismatch. Nothing is
ever unpickled; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from harness.checkpoint import atomic_write_text
from harness.data import DatasetInfo
from harness.data.core import registered_info
from harness.errors import HarnessError
from harness.provenance import environment, now_iso

FORMAT_VERSION = 1


@dataclass
class SyntheticSet:
    images: torch.Tensor  # float32 [N, C, H, W], normalised
    labels: torch.Tensor  # int64 [N]
    info: DatasetInfo
    ipc: int
    soft_labels: torch.Tensor | None = None  # float32 [N, num_classes]
    meta: dict = field(default_factory=dict)  # distiller, config, seed, timings, warnings, ...

    @property
    def label_type(self) -> str:
        return "soft" if self.soft_labels is not None else "hard"

    def targets(self, label_type: str = "hard") -> torch.Tensor:
        if label_type == "soft":
            if self.soft_labels is None:
                raise HarnessError("this protocol wants soft labels but the synthetic set has none")
            return self.soft_labels
        return self.labels


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def manifest_path(path: Path) -> Path:
    return Path(path).with_suffix(".json")


def save_synset(synset: SyntheticSet, path: Path) -> Path:
    """Write the tensors, then the manifest (so a manifest always describes a complete file)."""
    path = Path(path).with_suffix(".safetensors")
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {"images": synset.images.detach().float().contiguous().cpu(),
               "labels": synset.labels.long().contiguous().cpu()}
    if synset.soft_labels is not None:
        tensors["soft_labels"] = synset.soft_labels.detach().float().contiguous().cpu()
    tmp = path.with_name(path.name + ".tmp")
    save_file(tensors, tmp)
    os.replace(tmp, path)
    manifest = {
        "format_version": FORMAT_VERSION,
        "dataset": synset.info.name,
        "dataset_info": asdict(synset.info),
        "ipc": synset.ipc,
        "num_images": len(synset.labels),
        "image_shape": list(synset.images.shape[1:]),
        "label_type": synset.label_type,
        "normalisation": {"mean": list(synset.info.mean), "std": list(synset.info.std)},
        "sha256": sha256_file(path),
        "created": now_iso(),
        **environment(),
        **synset.meta,
    }
    atomic_write_text(manifest_path(path), json.dumps(manifest, indent=2, default=str))
    return path


def read_manifest(path: Path) -> dict:
    path = Path(path)
    mpath = manifest_path(path)
    if not mpath.exists():
        raise HarnessError(f"no manifest {mpath} beside {path}: a synthetic set is NAME.safetensors + NAME.json")
    try:
        return json.loads(mpath.read_text())
    except json.JSONDecodeError as exc:
        raise HarnessError(f"manifest {mpath} is not valid JSON ({exc.msg} at line {exc.lineno})") from None


def manifest_dataset_info(manifest: dict) -> DatasetInfo:
    """The manifest's dataset facts; a field added since it was written (``mirror_invariant``)
    comes from the registered dataset, so older artifacts are augmented as new ones are."""
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in manifest["dataset_info"].items()}
    registered = registered_info(manifest["dataset"])
    if "mirror_invariant" not in fields and registered is not None:
        fields["mirror_invariant"] = registered.mirror_invariant
    return DatasetInfo(**fields)


def load_synset(path: Path, expect_dataset: str | None = None) -> SyntheticSet:
    """Load and verify an artifact; ``expect_dataset`` refuses a set distilled from another dataset."""
    path = Path(path).with_suffix(".safetensors")
    if not path.exists():
        raise HarnessError(f"synthetic set {path} does not exist: distil one with `python -m harness.distill`")
    manifest = read_manifest(path)
    digest = sha256_file(path)
    if digest != manifest.get("sha256"):
        raise HarnessError(f"{path} is corrupted or was changed: its sha256 {digest[:12]}... does not match "
                           f"the manifest's {str(manifest.get('sha256'))[:12]}...; distil it again")
    if expect_dataset is not None and manifest["dataset"] != expect_dataset:
        raise HarnessError(f"{path} was distilled from '{manifest['dataset']}', not '{expect_dataset}': "
                           f"evaluate it with --dataset {manifest['dataset']}")
    tensors = load_file(path)
    images, labels = tensors["images"], tensors["labels"]
    info = manifest_dataset_info(manifest)
    expected = [manifest["num_images"], *manifest["image_shape"]]
    if list(images.shape) != expected or list(images.shape[1:]) != list(info.image_shape) or len(labels) != len(images):
        raise HarnessError(f"{path} holds images {list(images.shape)} and {len(labels)} labels but its manifest "
                           f"says {expected} for a {info.image_shape} dataset; the artifact is inconsistent")
    meta_keys = set(manifest) - {"dataset_info", "ipc"}
    return SyntheticSet(images, labels, info, manifest["ipc"], tensors.get("soft_labels"),
                        meta={k: manifest[k] for k in meta_keys})
