"""What every command shares, defined once: the parser (one-line errors, defaults in ``--help``),
the common flags, their validation, and the runner that turns bad input into one line on stderr.

One vocabulary: ``--output DIR`` is the output folder everywhere (records, artifacts, caches,
reports; default ``$DD_OUTPUT``, else ``runs/``), ``--seeds N`` means seeds 0..N-1, ``--protocol``
names an evaluation protocol (``python -m harness ls`` lists them), ``--device`` and
``--no-progress`` mean the same in every command.
"""

from __future__ import annotations

import argparse
import difflib
import os
import sys
from pathlib import Path

from commands._types import (  # noqa: F401 (commands use them as cli.<name>)
    MAX_SEED,
    MAX_SEEDS,
    MAX_WHOLE,
    POSITIVE,
    SEED,
    SEEDS,
    dataset_name,
    key_value,
    names,
    non_empty,
    number_list,
    one_of,
    output_folder,
    real_number,
    whole_number,
)
from harness.errors import HarnessError
from harness.registry import UnknownNameError


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Every option's help ends with its default (unless it says it already or has none)."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        none = default is None or default is False or default is argparse.SUPPRESS or default == []  # 0 is a default
        if not none and "default" not in text and action.option_strings:
            text += f" (default: {default})"
        elif action.required and action.option_strings:
            text += " (required)"
        return text


class Parser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose errors are one line, with "did you mean" for a mistyped flag and
    the new name of a renamed one (``renamed``: old flag -> new flag)."""

    def __init__(self, renamed: dict[str, str] | None = None, **kwargs):
        super().__init__(formatter_class=HelpFormatter, **kwargs)
        self.renamed = renamed or {}

    def parse_args(self, args=None, namespace=None):
        args = sys.argv[1:] if args is None else list(args)
        known = [o for action in self._actions for o in action.option_strings]
        for flag in (a.split("=", 1)[0] for a in args if a.startswith("--")):  # before "required" complaints
            if flag in self.renamed:
                raise HarnessError(f"{self.prog}: {flag} is now {self.renamed[flag]}")
            if not any(k.startswith(flag) for k in known):  # argparse takes unique prefixes
                close = difflib.get_close_matches(flag, known, n=1, cutoff=0.6)
                raise HarnessError(f"{self.prog}: unknown flag {flag}." + (f" Did you mean '{close[0]}'?" if close else
                                                                           " See --help."))
        parsed = super().parse_args(args, namespace)
        if getattr(parsed, "output", None) is not None:  # the checks before use_output() read this folder's cache
            os.environ["DD_OUTPUT"] = str(parsed.output)  # (e.g. --set pretrain=<a pool imported there>); nothing is written
        return parsed

    def error(self, message: str):
        raise HarnessError(f"{self.prog}: {message}")

    def add_argument(self, *flags, **kwargs):
        """Every flag that takes a value refuses an empty one (``--distiller ''``), unless its type
        says ``empty_ok`` (a list that may be empty)."""
        action = super().add_argument(*flags, **kwargs)
        if action.nargs != 0 and not getattr(action.type, "empty_ok", False):
            action.type = non_empty(action.type)
        return action


def device_name(text: str) -> str:
    resolve_device(text)
    return text


device_name.kind = "name"


def add_output(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", type=output_folder, metavar="DIR",
                        help="output folder: records/, synsets/, cache/, reports/ (default: $DD_OUTPUT, else runs/)")


def add_run_flags(parser: argparse.ArgumentParser, progress: bool = True) -> None:
    """``--output``, ``--device`` and (for commands that show progress bars) ``--no-progress``."""
    add_output(parser)
    parser.add_argument("--device", type=device_name, default="auto",
                        help="auto (CUDA when present), cpu, cuda, cuda:1, ... (one that this machine has)")
    if progress:
        parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def add_dataset(parser: argparse.ArgumentParser, default: str, imbalance: bool = True) -> None:
    parser.add_argument("--dataset", type=dataset_name, default=default,
                        help="dataset name (python -m harness ls lists them)")
    if imbalance:
        parser.add_argument("--imbalance", type=real_number(1, MAX_WHOLE), default=None,
                            help="imbalance factor n_max/n_min of a long-tailed '<name>-lt' dataset (default 100)")


def add_seeds(parser: argparse.ArgumentParser, default: int, what: str = "evaluation seeds") -> None:
    parser.add_argument("--seeds", type=SEEDS, default=default, help=f"{what} 0..N-1 (at most {MAX_SEEDS})")


def add_protocol(parser: argparse.ArgumentParser, default: str = "quick") -> None:
    from harness.protocol import PROTOCOLS

    parser.add_argument("--protocol", type=one_of(PROTOCOLS), default=default,
                        help=f"evaluation protocol, one of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--epochs", type=POSITIVE, help="override the protocol's epochs (changes its fingerprint)")


def add_distill_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipc", type=POSITIVE, default=10, help="images per class")
    parser.add_argument("--seed", type=SEED, default=0, help="distillation seed")
    parser.add_argument("--iterations", type=POSITIVE,
                        help="distillation iterations, over the command's budget (distill: --budget)")
    parser.add_argument("--real-batch", type=POSITIVE,
                        help="real images per class per iteration, over the command's budget")
    add_set_flag(parser, "any other distiller setting, e.g. --set lr_images=0.5")


def add_set_flag(parser: argparse.ArgumentParser, what: str) -> None:
    """``--set KEY=VALUE`` (repeatable), read with :func:`parse_settings`."""
    parser.add_argument("--set", action="append", type=key_value, default=[], metavar="KEY=VALUE",
                        help=f"{what} (repeatable)")




def parse_settings(pairs: list[str]) -> dict:
    """``["lr_images=0.5", "dsa=false"]`` -> dict (values coerced later by the config type)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise HarnessError(f"--set expects key=value, got '{pair}'")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def distill_overrides(args) -> dict:
    overrides = parse_settings(args.set)
    for key in ("iterations", "real_batch"):
        if getattr(args, key, None) is not None:
            overrides[key] = getattr(args, key)
    return overrides


def protocol_from_args(args):
    from harness.protocol import PROTOCOLS

    protocol = PROTOCOLS.get(args.protocol)
    return protocol.with_overrides(epochs=args.epochs) if args.epochs is not None else protocol


def imbalance_from_args(args) -> float:
    """The imbalance factor; given for a dataset that is not long-tailed, it is refused."""
    from harness.data.longtail import is_long_tailed

    if args.imbalance is None:
        return 100.0
    if not is_long_tailed(args.dataset):
        raise HarnessError(f"--imbalance applies to long-tailed datasets only: use --dataset {args.dataset}-lt, "
                           f"or drop --imbalance")
    return check_imbalance(args.dataset, args.imbalance)


def check_imbalance(dataset: str, imbalance: float) -> float:
    """A finite factor from 1 to the smallest class's size of the balanced dataset (past it, the
    tail class would keep less than one image and the factor would not be the data's)."""
    from harness.data.core import dataset_facts
    from harness.data.longtail import SUFFIX

    base = dataset.removesuffix(SUFFIX)
    smallest = min(dataset_facts(base).counts)
    if not (isinstance(imbalance, (int, float)) and 1 <= imbalance <= smallest):
        raise HarnessError(f"imbalance {imbalance!r} of {dataset}: use a number from 1 to {smallest} (n_max / n_min; "
                           f"past {smallest}, the smallest class of {base}, the tail class keeps less than one image)")
    return imbalance


def resolve_device(name: str):
    """``name`` as a torch device this machine has: auto, cpu, cuda[:N] (N below the GPU count), mps."""
    import torch

    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        device = torch.device(name)
    except RuntimeError:
        raise HarnessError(f"unknown device '{name}': use auto, cpu or cuda[:N]") from None
    available = {"cpu": True, "cuda": torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count(),
                 "mps": torch.backends.mps.is_available()}
    if not available.get(device.type, False):
        raise HarnessError(f"--device {name} is not available on this machine: use auto or cpu"
                           + (f", or cuda[:N] with N < {torch.cuda.device_count()}" if torch.cuda.is_available() else ""))
    return device


def check_distillation(name: str, overrides: dict, dataset: str, ipc: int, imbalance: float = 100.0,
                       flag: str = "--ipc"):
    """What a distillation would refuse once it has read the data, checked from the registries and the
    dataset's metadata before anything is read or written: the distiller, its settings, the IPC
    against the class sizes (and the real images its initialisation draws), the pretraining classes.
    ``flag``: the flag that sets the IPC, named in the error. Returns the distiller."""
    from distillers import create_distiller
    from harness.data.core import dataset_facts

    distiller = create_distiller(name, overrides)
    facts = dataset_facts(dataset, imbalance)
    try:
        distiller.check_ipc(facts, ipc)
        distiller.check_init(facts, ipc)
    except HarnessError as exc:
        raise HarnessError(str(exc).replace("--ipc", flag)) from None
    distiller.pretraining_classes(facts)
    return distiller


def check_new_file(path: Path, flag: str) -> None:
    """A file the command will create: not an existing folder, and its folder not a file."""
    if path.is_dir():
        raise HarnessError(f"{flag} {path} is an existing folder: give a file name, e.g. {path / 'set.safetensors'}")
    parent = next((p for p in path.absolute().parents if p.exists()), None)
    if parent is not None and not parent.is_dir():
        raise HarnessError(f"{flag} {path}: {parent} is a file, not a folder")


def run_settings(args) -> dict:
    """The ``device`` and ``progress`` fields every task config takes, from ``--device``/``--no-progress``."""
    return {"device": str(resolve_device(args.device)), "progress": not args.no_progress}


def use_output(folder: Path | None) -> Path:
    """Make ``folder`` (or ``$DD_OUTPUT``/``runs``) the output folder, after checking it can be written."""
    from harness.paths import output_root

    if folder is not None:
        os.environ["DD_OUTPUT"] = str(folder)
    if os.environ.get("DD_OUTPUT") == "":
        raise HarnessError("$DD_OUTPUT is set but empty: unset it (outputs go to runs/) or name a folder")
    root = output_root()
    try:
        root.mkdir(parents=True, exist_ok=True)
        probe = root / ".write-test"
        probe.write_text("")
        probe.unlink()
    except OSError as exc:
        raise HarnessError(f"cannot write to the output folder {root} ({exc.strerror or exc}): choose another with "
                           f"--output DIR or $DD_OUTPUT") from None
    return root


def recorded_protocols(records: list[dict]) -> str:
    """``name (fingerprint)`` of the protocols the records ran under: the ones adapted to the
    dataset (e.g. DSA without flip on digits), which a config's own protocol may not be."""
    seen = dict.fromkeys((r["protocol_name"], r["protocol_fingerprint"]) for r in records)
    return ", ".join(f"{name} ({fp})" for name, fp in seen)


def run_task(task: str, config, title: str, details: str, **kwargs) -> list[dict]:
    """Run the registered task on ``config`` and print its results (:func:`print_results`)."""
    from tasks import TASKS

    records = TASKS.get(task).run(config, **kwargs)
    print_results(task, records, title, details)
    return records


def print_results(task: str, records: list[dict], title: str, details: str) -> None:
    """A header (``title`` on the records' dataset and its source, the protocols run, ``details``),
    the task's own report section as console tables (the numbers the report shows), then where its
    records are."""
    from harness.data.core import registered_info
    from harness.records import records_frame, records_path
    from reports.blocks import text_section
    from tasks import TASKS

    dataset = records[0]["dataset"]
    print(f"{title} on {dataset} ({registered_info(dataset).source}), protocol {recorded_protocols(records)}; "
          f"{details}:")
    print(text_section(TASKS.get(task).report_section()(records_frame(records))))
    print(f"records: {records_path(task)}")


def run_command(main, argv=None) -> None:
    """Run ``main(argv)``; bad input becomes one line on stderr and exit status 2, an output that
    cannot be written likewise; an interrupt keeps what was recorded."""
    from harness.provenance import git_commit
    from harness.speed import compile_mode, tune_malloc

    tune_malloc()  # a process-wide setting, so it belongs to the entry point, not to an import
    git_commit()  # read (and kept) now: a run that ends after a new commit still names the code it loaded
    try:
        compile_mode()  # a bad DD_COMPILE is refused before any work, not when the first model trains
        main(argv)
    except (HarnessError, UnknownNameError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        sys.exit(2)
    except OSError as exc:  # a file the command had to write or read
        where = f" {exc.filename}" if exc.filename else ""
        print(f"error: cannot access{where}: {exc.strerror or exc}", file=sys.stderr)
        sys.exit(2)
    except KeyboardInterrupt:
        print("interrupted: finished results are kept; rerun the same command to continue", file=sys.stderr)
        sys.exit(130)
