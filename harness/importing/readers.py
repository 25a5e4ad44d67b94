"""Reading an outside set: the file formats and the public codes' layouts, tensors only.

Formats: ``.pt`` / ``.pth`` through ``torch.load(weights_only=True)`` (tensors, lists, tuples,
dicts and plain numbers; NumPy number scalars too, which DC/DSA/DM's result files hold in their
accuracy lists; any other object is refused, so no pickled code runs), ``.npz`` (``np.load``
with ``allow_pickle=False``), ``.safetensors``, and a folder with one sub-folder of PNGs per class.

Layouts:

* ``ncfm``: ``[images, labels]``, a list or tuple of two tensors (what the NCFM authors'
  ``gather_save_visualize`` writes to ``data.pt``: the stored images, before multi-formation decoding);
* ``dcdm``: a dict whose ``data`` entry is a list of ``[images, labels]``, one per experiment
  (DC/DSA/DM's ``main*.py`` write ``res_*.pt`` so); ``index`` picks one;
* ``arrays``: named tensors or arrays: images (``images``, ``x``, ``image_syn``; ``arr_0`` of an
  unnamed ``np.savez``) and labels (``labels``, ``y``, ``targets``, ``label_syn``; ``arr_1``), with
  optional ``soft_labels``; a 2-D ``labels`` is a soft-label matrix;
* ``folder``: ``<class>/<any>.png``, the sub-folder named by a class name or class index.

The checksum of a folder is the sha256 over its PNG files in sorted order (class folder, then file
name), each as its relative path, a zero byte and its contents.
"""

from __future__ import annotations

import hashlib
import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from harness.data import DatasetInfo
from harness.errors import HarnessError
from harness.synset import sha256_file

LAYOUTS = ("auto", "ncfm", "dcdm")  # the ones a user may name; arrays and folder are recognised by format
IMAGE_KEYS = ("images", "x", "image_syn", "arr_0")
LABEL_KEYS = ("labels", "y", "targets", "label_syn", "arr_1")


@dataclass
class Raw:
    """What a source holds, before any check: images, hard labels and/or soft labels."""

    images: object
    labels: object
    soft_labels: object
    layout: str
    index: int | None
    file_format: str
    sha256: str


def read_source(path: Path, info: DatasetInfo, layout: str = "auto", index: int | None = None) -> Raw:
    """Read ``path`` in ``layout`` (``auto``: recognised); refuses what it cannot read in one line.
    ``info``: the dataset, whose classes name a PNG folder's sub-folders."""
    path = Path(path)
    if layout not in LAYOUTS:
        raise HarnessError(f"unknown layout '{layout}': use one of {', '.join(LAYOUTS)}")
    if not path.exists():
        raise HarnessError(f"{path} does not exist: give a .pt/.pth, .npz or .safetensors file or a folder of PNGs")
    if path.is_dir():
        raw = _folder(path, info)
    elif path.suffix in (".pt", ".pth"):
        return _torch_file(path, layout, index)
    elif path.suffix == ".npz":
        raw = _arrays(_npz(path), "npz", sha256_file(path))
    elif path.suffix == ".safetensors":
        raw = _arrays(_safetensors(path), "safetensors", sha256_file(path))
    else:
        raise HarnessError(f"{path.name}: unknown format '{path.suffix}': give a .pt/.pth, .npz or .safetensors file "
                           f"or a folder with one sub-folder of PNGs per class")
    if layout != "auto":
        raise HarnessError(f"--layout {layout} names a .pt file's layout; {path.name} is a {raw.file_format} "
                           f"source: drop --layout")
    if index is not None:
        raise HarnessError("--index picks one experiment of a dcdm .pt file (a list under 'data'); drop it")
    return raw


def _safe_globals() -> list:
    """NumPy number scalars (a dtype and its bytes: no code runs), as DC/DSA/DM's accuracy lists
    hold; their pickles name ``numpy._core`` (NumPy 2) or ``numpy.core`` (NumPy 1)."""
    scalar = np._core.multiarray.scalar
    numbers = [np.dtypes.BoolDType, np.dtypes.Float16DType, np.dtypes.Float32DType, np.dtypes.Float64DType,
               *(getattr(np.dtypes, f"{k}{b}DType") for k in ("Int", "UInt") for b in (8, 16, 32, 64))]
    return [scalar, (scalar, "numpy.core.multiarray.scalar"), np.dtype, *numbers]


def _torch_file(path: Path, layout: str, index: int | None) -> Raw:
    try:
        with torch.serialization.safe_globals(_safe_globals()):
            obj = torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, AttributeError, TypeError) as exc:
        found = re.search(r"GLOBAL ([\w.]+)", str(exc))
        what = f"it names {found.group(1)}, which is not a tensor" if found else _first_cause(exc)
        raise HarnessError(f"{path.name} is not a tensors-only file ({what}): the importer loads only tensors, lists, "
                           f"tuples, dicts and numbers (torch.load weights_only=True); save the images and labels "
                           f"as tensors") from None
    sha = sha256_file(path)
    seen = _layout_of(obj)
    if layout == "auto" and seen is None:
        raise HarnessError(f"{path.name}: unknown layout (a {type(obj).__name__}): expected [images, labels] (ncfm), "
                           f"a dict with 'data' = [[images, labels], ...] (dcdm) or a dict of named tensors "
                           f"(images, labels)")
    if layout != "auto" and seen != layout:
        raise HarnessError(f"{path.name} is not in the {layout} layout: {_LAYOUT_TEXT[layout]}; it holds "
                           f"{_LAYOUT_TEXT.get(seen, f'a {type(obj).__name__}')}")
    if seen != "dcdm" and index is not None:
        raise HarnessError("--index picks one experiment of a dcdm .pt file (a list under 'data'); drop it")
    if seen == "ncfm":
        return Raw(obj[0], obj[1], None, "ncfm", None, "pt", sha)
    if seen == "dcdm":
        experiments = obj["data"]
        if index is None and len(experiments) > 1:
            raise HarnessError(f"{path.name} holds {len(experiments)} experiments: choose one with --index "
                               f"0..{len(experiments) - 1}")
        index = 0 if index is None else index
        if not 0 <= index < len(experiments):
            raise HarnessError(f"--index {index} is past the {len(experiments)} experiment(s) {path.name} holds: "
                               f"use 0..{len(experiments) - 1}")
        return Raw(experiments[index][0], experiments[index][1], None, "dcdm", index, "pt", sha)
    return _arrays(obj, "pt", sha)


def _first_cause(exc: Exception) -> str:
    """The line of torch's multi-line message that says what went wrong (not its advice)."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    useful = [line for line in lines if "weights_only" not in line and "Weights only" not in line]
    return (useful or lines or [type(exc).__name__])[0][:160]


_LAYOUT_TEXT = {"ncfm": "[images, labels], a list of two tensors",
                "dcdm": "a dict with 'data' = [[images, labels], ...]", "arrays": "a dict of named tensors"}


def _is_pair(obj) -> bool:
    return isinstance(obj, (list, tuple)) and len(obj) == 2 and all(isinstance(t, torch.Tensor) for t in obj)


def _layout_of(obj) -> str | None:
    if _is_pair(obj):
        return "ncfm"
    if isinstance(obj, dict) and isinstance(obj.get("data"), (list, tuple)) and obj["data"] \
            and all(_is_pair(e) for e in obj["data"]):
        return "dcdm"
    if isinstance(obj, dict) and any(k in obj for k in IMAGE_KEYS):
        return "arrays"
    return None


def _npz(path: Path) -> dict:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {k: archive[k] for k in archive.files}
    except ValueError as exc:  # an object array needs pickle
        raise HarnessError(f"{path.name} holds an array of Python objects ({exc}): save numeric arrays only") from None
    except (OSError, EOFError) as exc:
        raise HarnessError(f"{path.name} is not a readable .npz archive ({exc})") from None


def _safetensors(path: Path) -> dict:
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(path)
    except (SafetensorError, OSError) as exc:
        raise HarnessError(f"{path.name} is not a readable .safetensors file ({exc})") from None


def _arrays(named: dict, file_format: str, sha: str) -> Raw:
    def first(keys):
        return next((named[k] for k in keys if k in named), None)

    images, labels, soft = first(IMAGE_KEYS), first(LABEL_KEYS), named.get("soft_labels")
    if images is None or (labels is None and soft is None):
        raise HarnessError(f"the {file_format} source holds {sorted(named)}: name the images one of "
                           f"{', '.join(IMAGE_KEYS[:3])} and the labels one of {', '.join(LABEL_KEYS[:4])} "
                           f"(or soft_labels)")
    if labels is not None and np.ndim(labels) == 2 and soft is None:
        labels, soft = None, labels
    return Raw(images, labels, soft, "arrays", None, file_format, sha)


def _class_of(name: str, info: DatasetInfo) -> int:
    if name in info.class_names:
        return info.class_names.index(name)
    if name.isdigit() and int(name) < info.num_classes:
        return int(name)
    raise HarnessError(f"class folder '{name}' is not a class of {info.name}: name it by a class index "
                       f"0..{info.num_classes - 1} or a class name ({', '.join(info.class_names[:4])}, ...)")


def _folder(path: Path, info: DatasetInfo) -> Raw:
    """uint8 images [N, C, H, W] and labels from ``<class>/<file>.png`` (sorted by class, then name)."""
    from PIL import Image

    folders = sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))
    if not folders:
        raise HarnessError(f"{path} holds no class folders: put each class's PNGs in a sub-folder named by the class")
    images, labels, digest = [], [], hashlib.sha256()
    modes = {1: "L", 3: "RGB"}
    for folder in folders:
        c = _class_of(folder.name, info)
        files = sorted(folder.glob("*.png"))
        if not files:
            raise HarnessError(f"class folder '{folder.name}' holds no .png files")
        for f in files:
            digest.update(str(f.relative_to(path)).encode() + b"\0" + f.read_bytes())
            with Image.open(f) as img:
                if img.mode != modes.get(info.channels):
                    raise HarnessError(f"{f.relative_to(path)} is a {img.mode} image: {info.name} needs "
                                       f"{info.channels}-channel images (PNG mode {modes.get(info.channels)})")
                array = np.asarray(img)
            images.append(torch.from_numpy(array.copy()).reshape(*array.shape[:2], -1).permute(2, 0, 1))
            labels.append(c)
    shapes = {tuple(x.shape) for x in images}
    if len(shapes) > 1:
        raise HarnessError(f"the PNGs under {path} differ in size ({sorted(shapes)[:3]}): every image must be "
                           f"{info.size}x{info.size}")
    return Raw(torch.stack(images), torch.tensor(labels), None, "folder", None, "png folder", digest.hexdigest())
