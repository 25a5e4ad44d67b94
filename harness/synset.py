"""The synthetic-set artifact: ``NAME.safetensors`` + ``NAME.json`` manifest with its sha256.

Images are stored float32 in the dataset's normalised space (the manifest names mean/std).
Loading parses the manifest against :data:`MANIFEST_FIELDS` and the tensors against
:data:`TENSORS`, then verifies the tensors' checksum, the manifest's own checksum over its
identifying fields, and the manifest against the tensors (images per class, labels, shapes) and
the registered dataset. Any defect is refused in one line naming the path the user gave. Nothing
is ever unpickled; writes are atomic.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file

from harness.checkpoint import atomic_save_file, atomic_write_text
from harness.data import DatasetInfo
from harness.data.core import registered_info
from harness.errors import HarnessError
from harness.provenance import environment, now_iso
from harness.schema import (COUNT, FACTOR, FLAG, NAME, NUMBER, OBJECT, POSITIVE, SIZE, TEXT, WHOLE, Field, Kind,
                            defect, list_of, nested, optional)

FORMAT_VERSION = 1
SUFFIX = ".safetensors"

# What a manifest must hold to be loaded (save_synset writes every required field; the optional
# ones are checked when present). dataset_info's fields are DatasetInfo's.
DATASET_INFO_FIELDS = {
    "name": Field(NAME), "num_classes": Field(COUNT), "channels": Field(COUNT), "size": Field(COUNT),
    "mean": Field(list_of(NUMBER, "a list of numbers")), "std": Field(list_of(POSITIVE, "a list of numbers > 0")),
    "class_names": Field(list_of(TEXT, "a list of strings")), "source": Field(TEXT, required=False),
    "imbalance": Field(FACTOR, required=False), "mirror_invariant": Field(FLAG, required=False),
}
MANIFEST_FIELDS = {
    "format_version": Field(WHOLE), "dataset": Field(NAME), "dataset_info": Field(nested(DATASET_INFO_FIELDS)),
    "ipc": Field(COUNT), "num_images": Field(SIZE), "image_shape": Field(list_of(COUNT, "a list of 3 whole numbers >= 1", 3)),
    "label_type": Field(Kind('"hard" or "soft"', lambda v: v in ("hard", "soft"))), "sha256": Field(NAME),
    "manifest_sha256": Field(TEXT, required=False), "multi_formation": Field(COUNT, required=False),
    "equal_count_formation": Field(COUNT, required=False), "images_per_class": Field(COUNT, required=False),
    "distiller": Field(TEXT, required=False), "seed": Field(optional(WHOLE), required=False),
    "config": Field(OBJECT, required=False), "classes": Field(list_of(WHOLE, "a list of whole numbers"), required=False),
    "timing": Field(nested({"wall_seconds": Field(NUMBER, required=False)}), required=False),
}
# The tensors of an artifact: name -> (required, dimensions, floating point).
TENSORS = {"images": (True, 4, True), "labels": (True, 1, False), "soft_labels": (False, 2, True)}


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
        """The labels a protocol trains on: ``hard`` class ids; ``soft`` the stored soft labels;
        ``soft-corrected`` the NCFM authors' soft-label path: a row whose largest entry is not its
        label becomes softmax(one-hot label), as their SoftCrossEntropy makes of get_softlabel's
        one-hot rows (temperature 1, so only soft labels stored at temperature 1 qualify)."""
        if label_type == "hard":
            return self.labels
        if self.soft_labels is None:
            raise HarnessError("this protocol wants soft labels but the synthetic set has none")
        if label_type == "soft":
            return self.soft_labels
        temperature = (self.meta.get("soft_labels") or {}).get("temperature", 1.0)
        if temperature != 1.0:
            raise HarnessError(f"label_type soft-corrected follows the NCFM authors at temperature 1, but this set's "
                               f"soft labels were made at {temperature}: distil with soft_temperature=1")
        one_hot = torch.nn.functional.one_hot(self.labels, self.soft_labels.shape[1]).float()
        wrong = self.soft_labels.argmax(1) != self.labels
        return torch.where(wrong.unsqueeze(1), torch.softmax(one_hot, 1), self.soft_labels)


# Distiller settings added after artifacts were first keyed by their config, left out of an
# artifact's identity (its path; a continual or de-biasing record's key; the report's grouping of
# sets by config) at these values, so a config that keeps them finds the artifacts and records it
# had before. psi_scale_bounds counts only for the mixture psi (the only one with scales).
LATER_SETTINGS = {"pretrain": "cpu-2epoch", "critic_pretrain": "cpu-2epoch", "critic_pretrain_images": 0,
                  "pretrain_classes": (), "class_alpha": "logistic", "psi_schedule": "iteration", "loss_scale": 1.0,
                  "matching_aug": "dsa", "lr_plateau_patience": 0, "calibration_steps": 0, "image_step": "iteration",
                  "pixel_space": False, "init": "random", "real_sample": "random", "calibration_teacher": "fixed",
                  "frequency_draw": "iteration", "lr_plateau_factor": 0.5, "psi_update": "ascent",
                  "image_optimizer": "adamw", "matching_crop": "continuous"}


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


def artifact_file(given: str | Path) -> Path:
    """The tensors file of the artifact the user named (NAME, NAME.safetensors or NAME.json);
    every refusal names ``given``, the path as typed."""
    text = str(given)
    if not text.strip():
        raise HarnessError(f"an empty artifact path ('{text}'): give NAME{SUFFIX}, with NAME.json beside it")
    path = Path(text)
    if path.is_dir():
        found = sorted(path.rglob(f"*{SUFFIX}"))
        hint = f", e.g. {found[0]}" if found else f" (it holds no {SUFFIX} file)"
        raise HarnessError(f"{text} is a folder, not an artifact: give one NAME{SUFFIX} file in it{hint}")
    if path.suffix in (SUFFIX, ".json"):
        path = path.with_suffix(SUFFIX)
    elif path.exists():
        raise HarnessError(f"{text} is not an artifact: a synthetic set is NAME{SUFFIX} with NAME.json beside it")
    else:
        path = path.with_name(path.name + SUFFIX)
    if not path.exists():
        raise HarnessError(f"synthetic set {text} does not exist: distil one with `python -m harness.distill`")
    if path.is_dir():
        raise HarnessError(f"{text} is a folder, not an artifact: give one NAME{SUFFIX} file")
    return path


def manifest_defect(manifest) -> str | None:
    """The first structural defect of a manifest (:data:`MANIFEST_FIELDS`), or None."""
    return defect(manifest, MANIFEST_FIELDS, "the manifest")


def read_manifest(path: Path, given: str | Path | None = None) -> dict:
    """The manifest beside ``path`` (the artifact's tensors file), parsed against its schema;
    refusals name ``given`` (default ``path``)."""
    given = path if given is None else given
    mpath = manifest_path(path)
    if not mpath.is_file():
        raise HarnessError(f"{given}: no manifest {mpath.name} beside it; a synthetic set is NAME{SUFFIX} + NAME.json")
    try:
        manifest = json.loads(mpath.read_bytes().decode("utf-8"))
    except UnicodeDecodeError:
        raise HarnessError(f"{given}: its manifest {mpath.name} is not UTF-8 text; distil the set again") from None
    except json.JSONDecodeError as exc:
        raise HarnessError(f"{given}: its manifest {mpath.name} is not valid JSON ({exc.msg} at line {exc.lineno}); "
                           f"distil the set again") from None
    except RecursionError:
        raise HarnessError(f"{given}: its manifest {mpath.name} is nested too deeply to be one") from None
    problem = manifest_defect(manifest)
    if problem:
        raise HarnessError(f"{given}: its manifest {mpath.name} is not a synthetic-set manifest ({problem}); the "
                           f"manifest was edited or the artifact is broken: distil it again")
    return manifest


def read_tensors(path: Path, given: str | Path) -> dict[str, torch.Tensor]:
    """The artifact's tensors, checked against :data:`TENSORS`."""
    try:
        tensors = load_file(path)
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise HarnessError(f"{given} is not a readable safetensors file ({why}); distil it again") from None
    for name, (required, dims, floating) in TENSORS.items():
        t = tensors.get(name)
        if t is None:
            if required:
                raise HarnessError(f"{given} holds no '{name}' tensor; distil it again")
            continue
        if t.dim() != dims or t.is_floating_point() != floating or t.dtype in (torch.bool, torch.uint8):
            kind = "floating-point" if floating else "integer"
            raise HarnessError(f"{given}: its '{name}' tensor is {t.dtype} {list(t.shape)}, not a {dims}-D {kind} "
                               f"tensor; distil it again")
    return tensors


def manifest_dataset_info(manifest: dict) -> DatasetInfo:
    """The manifest's dataset facts; a field added since it was written (``mirror_invariant``)
    comes from the registered dataset, so older artifacts are augmented as new ones are."""
    known = DatasetInfo.__dataclass_fields__
    fields = {k: tuple(v) if isinstance(v, list) else v for k, v in manifest["dataset_info"].items() if k in known}
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
    if len(info.mean) != info.channels or len(info.std) != info.channels:
        refuse(f"its dataset_info has {len(info.mean)} mean and {len(info.std)} std values for {info.channels} channel(s)")
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
    if soft_labels is not None and list(soft_labels.shape) != [len(labels), info.num_classes]:
        refuse(f"its soft labels are {list(soft_labels.shape)}, not [{len(labels)}, {info.num_classes}] (images x classes)")
    if (soft_labels is None) != (manifest.get("label_type", "hard") == "hard"):
        refuse(f"label_type '{manifest.get('label_type')}' does not match the tensors (soft labels "
               f"{'absent' if soft_labels is None else 'present'})")


def load_synset(path: str | Path, expect_dataset: str | None = None) -> SyntheticSet:
    """Load and verify an artifact; ``expect_dataset`` refuses a set distilled from another dataset.
    ``path`` is NAME, NAME.safetensors or NAME.json; every refusal names it as given."""
    given = path
    path = artifact_file(given)
    manifest = read_manifest(path, given)
    digest = sha256_file(path)
    if digest != manifest["sha256"]:
        raise HarnessError(f"{given} is corrupted or was changed: its sha256 {digest[:12]}... does not match "
                           f"the manifest's {manifest['sha256'][:12]}...; distil it again")
    if expect_dataset is not None and manifest["dataset"] != expect_dataset:
        raise HarnessError(f"{given} was distilled from '{manifest['dataset']}', not '{expect_dataset}': "
                           f"evaluate it with --dataset {manifest['dataset']}")
    tensors = read_tensors(path, given)
    images, labels = tensors["images"], tensors["labels"]
    info = manifest_dataset_info(manifest)
    expected = [manifest["num_images"], *manifest["image_shape"]]
    if list(images.shape) != expected or list(images.shape[1:]) != list(info.image_shape) or len(labels) != len(images):
        raise HarnessError(f"{given} holds images {list(images.shape)} and {len(labels)} labels but its manifest "
                           f"says {expected} for a {info.image_shape} dataset; the artifact is inconsistent")
    check_manifest(given, manifest, images, labels.long(), info, tensors.get("soft_labels"))
    meta_keys = set(manifest) - {"dataset_info", "ipc"}
    return SyntheticSet(images.float(), labels.long(), info, manifest["ipc"], tensors.get("soft_labels"),
                        meta={k: manifest[k] for k in meta_keys})
