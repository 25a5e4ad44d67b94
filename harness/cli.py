"""Shared command-line pieces: common flags, device choice, one-line errors."""

from __future__ import annotations

import argparse
import sys

import torch

from harness.data import DEFAULT_DATASET
from harness.errors import HarnessError
from harness.registry import UnknownNameError


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--dataset", default=DEFAULT_DATASET, help=f"dataset name (default {DEFAULT_DATASET})")
    parser.add_argument("--imbalance", type=float, default=100.0,
                        help="imbalance factor n_max/n_min for '<name>-lt' datasets (default 100)")
    parser.add_argument("--device", default="auto", help="auto (CUDA when present), cpu, cuda, cuda:1, ...")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise HarnessError(f"--device {name} was asked for but CUDA is not available: use --device cpu")
    try:
        return torch.device(name)
    except RuntimeError:
        raise HarnessError(f"unknown device '{name}': use auto, cpu or cuda[:N]") from None


def recorded_protocols(records: list[dict]) -> str:
    """``name (fingerprint)`` of the protocols the records ran under: the ones adapted to the
    dataset (e.g. DSA without flip on digits), which a config's own protocol may not be."""
    seen = dict.fromkeys((r["protocol_name"], r["protocol_fingerprint"]) for r in records)
    return ", ".join(f"{name} ({fp})" for name, fp in seen)


def run_command(main, argv=None) -> None:
    """Run ``main(argv)``; bad input becomes one line on stderr and exit status 2."""
    try:
        main(argv)
    except (HarnessError, UnknownNameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; rerun the same command to continue", file=sys.stderr)
        sys.exit(130)
