"""``python -m harness.debias --ipc 10 --seeds 3 --protocol quick``: de-biased condensation (paper sec. 6.8).

Distils the training split with each method, trains a fresh model per seed on each synthetic set
and reports average, worst-group and per-group test accuracy over (label, attribute) groups, with
95% intervals over seeds. The default dataset is the offline STAND-IN ``colored-mnist-spurious``
(not CelebA); ``--dataset celeba-blond`` reads CelebA from ``$DD_DATA``. Records go to
``<output>/records/debias.jsonl``; rerunning skips finished cells.
"""

from __future__ import annotations

import argparse

from harness.cli import recorded_protocols, resolve_device, run_command
from harness.errors import HarnessError


def _interval(s: dict) -> str:
    return f"{s['mean']:6.2f} +- {s['ci_high'] - s['mean']:5.2f}" if s["n"] > 1 else f"{s['mean']:6.2f}"


def format_table(summary: dict[str, dict]) -> str:
    """One row per method: accuracy and worst-group accuracy (mean +- 95% half-width), group means."""
    groups = sorted({g for row in summary.values() for g in row["group_accuracy"]})
    header = f"{'method':>14} {'accuracy':>15} {'worst group':>15} " + " ".join(f"{g:>17}" for g in groups)
    lines = [header]
    for method, row in summary.items():
        cells = " ".join(f"{row['group_accuracy'][g]['mean']:17.2f}" if g in row["group_accuracy"] else f"{'-':>17}"
                         for g in groups)
        lines.append(f"{method:>14} {_interval(row['accuracy']):>15} {_interval(row['worst_group_accuracy']):>15} "
                     + cells)
    return "\n".join(lines)


def main(argv=None) -> None:
    from harness.data.core import DATASETS
    from harness.data.spurious import NAME as STAND_IN
    from harness.distill import parse_settings
    from harness.evaluate import protocol_from_args
    from harness.models import MODELS
    from harness.protocol import PROTOCOLS
    from harness.records import records_path
    from tasks.debias import METHODS, TASK, DebiasConfig, run, summarise

    parser = argparse.ArgumentParser(prog="python -m harness.debias", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default=STAND_IN,
                        help=f"a dataset with a spurious attribute (default {STAND_IN}, an offline stand-in "
                             "for CelebA; celeba-blond needs the CelebA files under $DD_DATA)")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (distillation and evaluation)")
    parser.add_argument("--iterations", type=int, help="distillation iterations for every iterative method")
    parser.add_argument("--real-batch", type=int, help="real images per class per iteration, every iterative method")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="a distiller setting for every method that has it, e.g. --set attribute_weight=10")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="where to measure: test (default), or val, the split on which to choose settings")
    parser.add_argument("--methods", default=",".join(METHODS), help=f"comma-separated, from: {', '.join(METHODS)}")
    parser.add_argument("--arch", default="convnet", help="evaluation architecture")
    parser.add_argument("--protocol", default="quick", help=f"one of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs (changes its fingerprint)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    MODELS.get(args.arch)  # an unknown name fails here, before any work
    if args.seeds < 1:
        raise HarnessError(f"--seeds must be at least 1, got {args.seeds}")
    config = DebiasConfig(dataset=args.dataset, ipc=args.ipc, seeds=args.seeds, iterations=args.iterations,
                          real_batch=args.real_batch, settings=tuple(parse_settings(args.set).items()),
                          split=args.split,
                          methods=tuple(m.strip() for m in args.methods.split(",") if m.strip()),
                          arch=args.arch, protocol=protocol_from_args(args),
                          device=str(resolve_device(args.device)), progress=not args.no_progress)
    records = run(config)
    info = DATASETS.get(args.dataset).info
    print(f"de-biased condensation on {args.dataset} ({info.source}), ipc {args.ipc}, {args.seeds} seeds, "
          f"protocol {recorded_protocols(records)}, arch {config.arch}, "
          f"distillation iterations {args.iterations or 'each default'}, real batch "
          f"{args.real_batch or 'each default'}{''.join(f', {k}={v}' for k, v in config.settings)}; "
          f"{args.split} accuracy %, mean +- 95% CI half-width:")
    print(format_table(summarise(records)))
    print(f"records: {records_path(TASK)}")


if __name__ == "__main__":
    run_command(main)
