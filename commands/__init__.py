"""The command line, apart from the library it calls (lm-evaluation-harness's ``_cli``): one module
per command, each ``main(argv)``, with the shared flags in :mod:`commands._common`.

``python -m harness <command> ...`` dispatches here, and ``python -m harness.<command>`` is a thin
entry point for the same thing. Command modules import the library lazily; the library
(``harness``, ``distillers``, ``tasks``, ``reports``, ``agreement``) never imports this package.
"""

from __future__ import annotations

import importlib
import sys

from harness.registry import Registry

COMMANDS: Registry[str] = Registry("command", {
    "ls": "list datasets, architectures, distillers, tasks, profiles and protocols",
    "validate": "verify an artifact's checksum, shapes and manifest",
    "import": "turn a set made by any code (.pt, .npz, .safetensors, PNG folders) into an artifact",
    "distill": "distil a dataset into an artifact",
    "evaluate": "train fresh models on an artifact, test on the real test split, record",
    "pretrain": "fill the pretrained-model cache the distillers read",
    "transfer": "cross-architecture transfer with the gain over a same-size random subset",
    "cl": "class-incremental GDumb with random, herded and distilled memories",
    "nas": "NAS-Bench-201 ranking correlation of a proxy set",
    "nas-truth": "measure a NAS-Bench-201 ground truth and ship it in the package",
    "debias": "de-biased condensation: average, worst-group and per-group accuracy",
    "sweep": "expand a grid into result cells and run the missing ones",
    "bench": "time the hot paths",
    "report": "collate every record into report.md and report.html",
    "agree": "the harness's loss and image gradient against the authors' code (DM, NCFM)",
    "agreement-page": "regenerate docs/agreement.md (the harness beside the authors' code) from records",
    "import-pool": "bring pretrained networks made by other code (the NCFM authors' pretrain folder) into the cache",
})

MODULES = {"import": "import_set"}  # a command whose name is a Python keyword


def entry_point(name: str, argv=None) -> None:
    """Run command ``name`` as a program: its one-line errors, its exit status."""
    from commands._common import run_command

    def command(args):
        COMMANDS.get(name)
        importlib.import_module(f"commands.{MODULES.get(name, name.replace('-', '_'))}").main(args)

    run_command(command, argv)


def main(argv=None) -> None:
    """``python -m harness <command> [flags]``; without a command, the list of commands."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print("usage: python -m harness <command> [flags]   (python -m harness <command> --help for its flags)\n")
        print("\n".join(f"  {name:<15} {text}" for name, text in COMMANDS.items()))
        return
    entry_point(argv[0], argv[1:])
