"""What the agreement checks share: the result of a check, the relative error, a checkout of the
authors' code on ``sys.path`` for the length of a check, the dtype the check runs in, and the
synthetic dataset both codes read."""

from __future__ import annotations

import importlib
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import torch

from harness.data import DatasetInfo, ImageData
from harness.errors import HarnessError


@dataclass(frozen=True)
class Check:
    """One compared quantity: its name and the largest relative error (``relative_error``)."""

    name: str
    error: float


def relative_error(ours, theirs) -> float:
    """max |ours - theirs| / max |theirs| over a tensor (or a number); for two lists of tensors the
    largest over the pairs, infinite when the lists differ in length. Measured against the tensor's
    scale, so entries near zero do not blow it up."""
    if isinstance(ours, (list, tuple)):
        if len(ours) != len(theirs) or not ours:
            return float("inf")
        return max(relative_error(a, b) for a, b in zip(ours, theirs))
    a = torch.as_tensor(ours, dtype=torch.float64).detach()
    b = torch.as_tensor(theirs, dtype=torch.float64).detach()
    if a.shape != b.shape:
        return float("inf")
    scale = b.abs().max()
    diff = (a - b).abs().max()
    return float(diff / scale) if scale > 0 else float(diff > 0) * float("inf")


def checked_out(path: Path, required: tuple[str, ...], repo: str) -> Path:
    """``path`` resolved, refused in one line (exit 2) unless it is a folder holding ``required``."""
    path = Path(path).expanduser().resolve()
    fix = f"clone https://github.com/{repo} and pass its folder"
    if not path.is_dir():
        raise HarnessError(f"--authors {path}: no such folder ({fix})")
    missing = [name for name in required if not (path / name).is_file()]
    if missing:
        raise HarnessError(f"--authors {path} is not a checkout of {repo}: it has no {missing[0]} ({fix})")
    return path


@contextmanager
def authors_code(path: Path, required: tuple[str, ...], repo: str):
    """The checkout at ``path`` importable by its own top-level names for the length of the block
    (``checked_out`` first). Modules of the same
    top-level names imported before (e.g. another checkout's ``utils``) are set aside and restored,
    and the checkout's modules are dropped afterwards, so two checkouts never see each other's."""
    path = checked_out(path, required, repo)
    names = {p.stem if p.suffix == ".py" else p.name for p in path.iterdir() if p.is_dir() or p.suffix == ".py"}

    def ours(module: str) -> bool:
        return module.split(".")[0] in names

    aside = {m: sys.modules.pop(m) for m in [m for m in sys.modules if ours(m)]}
    sys.path.insert(0, str(path))
    try:
        yield path
    finally:
        sys.path.remove(str(path))
        for m in [m for m in sys.modules if ours(m)]:
            del sys.modules[m]
        sys.modules.update(aside)


def import_theirs(repo: str, *modules: str):
    """The named modules of the checkout on ``sys.path`` (``authors_code``); a module that does not
    import (a missing package, another layout) is a one-line error."""
    try:
        return [importlib.import_module(m) for m in modules]
    except Exception as exc:  # their import may fail in any way; the user needs the one line
        raise HarnessError(f"cannot import {repo}'s code ({type(exc).__name__}: {exc}): check out the "
                           f"repository unmodified and install what its requirements name") from None


@contextmanager
def default_dtype(dtype: torch.dtype):
    """torch's default dtype for the block: the harness's networks, frequencies and images follow it."""
    before = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        yield
    finally:
        torch.set_default_dtype(before)


class CheckData(ImageData):
    """Images whose normalised form is cast to torch's default dtype: the harness normalises in
    float32, and both codes then receive these same values (float64 in a float64 check)."""

    def normalised(self, index=None, device="cpu") -> torch.Tensor:
        return super().normalised(index, device).to(torch.get_default_dtype())


def synthetic_data(name: str, classes: int, per_class: int, channels: int, size: int, mean, std,
                   seed: int = 0) -> CheckData:
    """Random uint8 images, labels interleaved (0, 1, ..., 0, 1, ...) so that a class's first
    images are not the dataset's first."""
    gen = torch.Generator().manual_seed(seed)
    n = classes * per_class
    images = torch.randint(0, 256, (n, channels, size, size), generator=gen, dtype=torch.uint8)
    info = DatasetInfo(name, classes, channels, size, tuple(mean), tuple(std),
                       tuple(f"class{c}" for c in range(classes)), source="random pixels (agreement check)")
    return CheckData(images, torch.arange(n) % classes, info, "train")
