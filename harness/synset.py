"""The synthetic-set artifact: ``NAME.safetensors`` + ``NAME.json`` manifest with its sha256.

Images are stored float32 in the dataset's normalised space (the manifest names mean/std).
Loading verifies the tensors' checksum, the manifest's own checksum over its identifying fields,
and the manifest against the tensors (images per class, labels, shapes) and the registered
dataset, and refuses a mismatch. Nothing is
ever unpickled; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors.torch import load_file

from harness.checkpoint import atomic_save_file, atomic_write_text
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


# Distiller settings added after artifacts were first keyed by their config, left out of an
# artifact's identity (its path; a continual or de-biasing record's key; the report's grouping of
# sets by config) at these values, so a config that keeps them finds the artifacts and records it
# had before. psi_scale_bounds counts only for the mixture psi (the only one with scales).
LATER_SETTINGS = {"pretrain": "cpu-2epoch", "critic_pretrain": "cpu-2epoch", "critic_pretrain_images": 0,
                  "pretrain_classes": (), "class_alpha": "logistic", "psi_schedule": "iteration", "loss_scale": 1.0,
                  "matching_aug": "dsa", "lr_plateau_patience": 0, "calibration_steps": 0, "image_step": "iteration",
                  "pixel_space": False, "init": "random", "real_sample": "random", "calibration_teacher": "fixed",
                  "frequency_draw": "iteration", "lr_plateau_factor": 0.5}


def identity_config(config: dict) -> dict:
    """``config`` (a distiller's full settings) as artifacts and records are keyed by it."""

    def default(key, value):
        return key in LATER_SETTINGS and json.dumps(value) == json.dumps(LATER_SETTINGS[key])

    out = {k: v for k, v in config.items() if not default(k, v)}
    if out.get("psi", "mixture") != "mixture":
        out.pop("psi_scale_bounds", None)
    return out


def decoded_per_class(synset: SyntheticSet) -> int:
    """Training images per class the set holds (what a model trains on): rho^2 x ipc for a
    multi-formation set, ``images_per_class`` for an equal-count control, else ipc. Checked
    against the tensors when the artifact is loaded."""
    return int(synset.meta.get("images_per_class", synset.ipc))


def stored_per_class(synset: SyntheticSet) -> int:
    """Images per class the artifact stores: ipc for a multi-formation set (each decodes into
    rho^2), every image for the others (an equal-count control stores all its real images)."""
    return decoded_per_class(synset) // int(synset.meta.get("multi_formation", 1)) ** 2


def set_label(synset_or_manifest) -> str:
    """The name records and reports give a set: its distiller, or for an imported set its source
    name marked as imported."""
    meta = getattr(synset_or_manifest, "meta", synset_or_manifest)
    if meta.get("distiller") == "external":
        return f"{meta.get('name', 'unnamed')} (imported)"
    return meta.get("distiller", "unknown")


def stored_bytes(synset: SyntheticSet) -> dict:
    """What a user stores to use the set, in bytes by part, as the artifact stores each (float32
    images, int64 labels, float32 soft labels): the stored images (for a multi-formation set, the
    ipc-counted images before decoding; every image for the others), one label per stored image,
    and the soft-label matrix when present. No harness evaluation needs a teacher network or learnt
    learning rates, so neither is counted."""
    rho = int(synset.meta.get("multi_formation", 1))
    stored = len(synset.labels) // rho**2
    parts = {"images": stored * synset.images[0].numel() * 4, "labels": stored * 8}
    if synset.soft_labels is not None:  # an imported set's soft labels are per stored image, repeated when decoded
        rows = stored if synset.meta.get("distiller") == "external" else len(synset.soft_labels)
        parts["soft_labels"] = rows * synset.soft_labels.shape[1] * 4
    return {**parts, "total": sum(parts.values())}


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


# The manifest fields a record is keyed by or a task reads: covered by ``manifest_sha256``.
IDENTITY_KEYS = ("dataset", "dataset_info", "ipc", "num_images", "image_shape", "label_type", "distiller", "config",
                 "seed", "multi_formation", "images_per_class", "classes", "name", "origin", "class_counts")


def manifest_checksum(manifest: dict) -> str:
    """sha256 of the manifest's identifying fields (those present), so an edit to any is caught."""
    body = {k: manifest[k] for k in IDENTITY_KEYS if k in manifest}
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


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
    atomic_save_file(tensors, path)
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
        "stored_bytes": stored_bytes(synset),  # of these tensors, whatever a loaded set's meta said
    }
    manifest = json.loads(json.dumps(manifest, default=str))  # as it will be read back
    manifest["manifest_sha256"] = manifest_checksum(manifest)
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


def check_manifest(path: Path, manifest: dict, images: torch.Tensor, labels: torch.Tensor, info: DatasetInfo,
                   soft_labels: torch.Tensor | None) -> None:
    """Refuse a manifest that disagrees with its tensors, with itself or with the registered
    dataset: nothing is evaluated or recorded under a name the tensors do not bear out."""
    def refuse(what: str):
        raise HarnessError(f"{path}: {what}; the manifest was edited or the artifact is broken: distil it again")

    if "manifest_sha256" in manifest and manifest["manifest_sha256"] != manifest_checksum(manifest):
        refuse("its manifest's identifying fields (dataset, ipc, distiller, config, ...) do not match their checksum")
    if manifest["dataset"] != info.name:
        refuse(f"the manifest says dataset '{manifest['dataset']}' but its dataset_info says '{info.name}'")
    registered = registered_info(info.name)
    if registered is not None and (registered.channels, registered.size, registered.num_classes) != (
            info.channels, info.size, info.num_classes):
        refuse(f"its dataset_info ({info.channels}x{info.size}x{info.size}, {info.num_classes} classes) is not the "
               f"registered {info.name} ({registered.channels}x{registered.size}x{registered.size}, "
               f"{registered.num_classes} classes)")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= info.num_classes):
        refuse(f"its labels run outside 0..{info.num_classes - 1}")
    factor = int(manifest.get("multi_formation", manifest.get("equal_count_formation", 1)))
    per_class = int(manifest.get("images_per_class", manifest["ipc"] * factor**2))
    if per_class != manifest["ipc"] * factor**2:
        refuse(f"images_per_class {per_class} is not ipc {manifest['ipc']} x multi_formation^2 ({factor**2})")
    counts = torch.bincount(labels, minlength=info.num_classes)
    listed = manifest.get("class_counts")  # an imported set may hold unequal images per class, listed per class
    if listed is not None and (counts.tolist() != listed or max(listed) != per_class):
        refuse(f"its images per class {counts.tolist()} are not the manifest's class_counts {listed} (largest "
               f"{per_class})")
    wrong = [c for c in range(info.num_classes) if counts[c] not in (0, per_class) and listed is None]
    if wrong or not counts.any():
        c = wrong[0] if wrong else 0
        refuse(f"class {c} holds {int(counts[c])} images but the manifest's ipc {manifest['ipc']} means {per_class}")
    if (soft_labels is None) != (manifest.get("label_type", "hard") == "hard"):
        refuse(f"label_type '{manifest.get('label_type')}' does not match the tensors (soft labels "
               f"{'absent' if soft_labels is None else 'present'})")


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
    check_manifest(path, manifest, images, labels, info, tensors.get("soft_labels"))
    meta_keys = set(manifest) - {"dataset_info", "ipc"}
    return SyntheticSet(images, labels, info, manifest["ipc"], tensors.get("soft_labels"),
                        meta={k: manifest[k] for k in meta_keys})
