"""One-step agreement with the authors' code: for identical inputs (synthetic images, network
weights, real batch, frequencies; augmentation off), the harness's loss and image gradient against
those of the authors' own functions, imported from the user's unmodified checkout at run time.

One module per code base: :mod:`agreement.dm` (VICO-UoE/DatasetCondensation, DM) and
:mod:`agreement.ncfm` (gszfwsb/NCFM: ``ncfm-official`` with and without calibration, the
multi-formation decoder); each docstring says which of their functions are called and what is
re-stated. Nothing of theirs is copied here. This package sits above the distillers (it imports
``harness`` and ``distillers``); only the ``agree`` command and the tests import it.
"""

from __future__ import annotations

import hashlib
import importlib
from pathlib import Path

import torch

from agreement._common import Check, checked_out

CODES = {"dm": "agreement.dm", "ncfm": "agreement.ncfm"}  # code -> its module (REPO, REQUIRED, checks)
# the largest relative error that counts as agreement: float64 is the verdict; float32 (the dtype the
# harness runs in) differs by rounding that AdamW's per-class steps amplify (up to 5e-3 seen on a gradient)
TOLERANCE = {"float64": 1e-6, "float32": 1e-2}


def repository(code: str) -> str:
    """The GitHub repository of ``code`` ('dm' or 'ncfm')."""
    return importlib.import_module(CODES[code]).REPO


def check_checkout(code: str, authors: Path) -> Path:
    """``authors`` resolved; refused in one line unless it holds the files ``code``'s checks read."""
    module = importlib.import_module(CODES[code])
    return checked_out(authors, module.REQUIRED, module.REPO)


def checkout_fingerprint(code: str, authors: Path) -> str:
    """sha256 (12 hex) over the files ``code``'s checks read from the checkout: which version of the
    authors' code a record was checked against, whether or not the checkout is a git repository."""
    digest = hashlib.sha256()
    for name in importlib.import_module(CODES[code]).REQUIRED:
        digest.update(name.encode() + b"\0" + (Path(authors) / name).read_bytes())
    return digest.hexdigest()[:12]


def run_checks(code: str, authors: Path, dtype: str = "float64") -> list[Check]:
    """Every check of ``code`` against the checkout at ``authors``, in ``dtype`` ('float64', 'float32')."""
    return importlib.import_module(CODES[code]).checks(Path(authors), getattr(torch, dtype))


__all__ = ["CODES", "TOLERANCE", "Check", "check_checkout", "checkout_fingerprint", "repository", "run_checks"]
