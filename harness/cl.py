"""``python -m harness.cl --steps 5``: class-incremental GDumb with real, herded and distilled memories
(paper sec. 6.6).

Avalanche's GDumb re-initialises the model before each experience and trains it only on the
memory (``--memory`` images per seen class), then tests it on every class seen so far. Memories:
Avalanche's class-balanced random buffer (``gdumb``), ``herding`` and each ``--distillers`` set,
made from the arriving classes' images only. Default: offline Split-Fashion-MNIST; the paper
setting is ``--dataset cifar100`` (with ``--steps 5`` or ``--steps 10``; CIFAR-100 under
``$DD_DATA``). Records go to ``<output>/records/continual.jsonl``; rerunning skips finished cells.
"""

from __future__ import annotations

import argparse
import logging
import warnings

from harness.cli import recorded_protocols, resolve_device, run_command
from harness.errors import HarnessError


def _interval(s: dict) -> str:
    return f"{s['mean']:.2f} +- {s['ci_high'] - s['mean']:.2f}" if s["n"] > 1 else f"{s['mean']:.2f}"


def format_table(summary: dict[str, dict[int, dict]], classes_per_step: int) -> str:
    """One row per memory, one column per step: accuracy on the seen classes, mean +- 95% half-width."""
    steps = sorted({step for row in summary.values() for step in row})
    width = max(17, *(len(_interval(s)) for row in summary.values() for s in row.values()))
    header = f"{'memory':>10} " + " ".join(f"{f'step {t} ({t * classes_per_step} cls)':>{width}}" for t in steps)
    lines = [header]
    for memory, row in summary.items():
        lines.append(f"{memory:>10} " + " ".join(f"{_interval(row[t]) if t in row else '-':>{width}}" for t in steps))
    return "\n".join(lines)


def quiet_avalanche() -> None:
    """Avalanche's deprecation warnings and logging chatter would flood the one progress bar."""
    warnings.filterwarnings("ignore", category=DeprecationWarning)
    warnings.filterwarnings("ignore", module=r"avalanche(\.|$)")
    warnings.filterwarnings("ignore", message=r".*(QP solver|No loggers specified).*")
    logging.getLogger("avalanche").setLevel(logging.ERROR)


def main(argv=None) -> None:
    from tqdm.auto import tqdm

    from distillers import DISTILLERS
    from harness.data.core import registered_info
    from harness.evaluate import protocol_from_args
    from harness.models import MODELS
    from harness.protocol import PROTOCOLS
    from harness.records import records_path
    from tasks.continual import BASELINES, TASK, CLConfig, run, summarise
    from tasks.transfer import PROFILES

    parser = argparse.ArgumentParser(prog="python -m harness.cl", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist",
                        help="default fashion-mnist (offline); the paper setting is cifar100 (needs $DD_DATA)")
    parser.add_argument("--distillers", default="dm", help=f"comma-separated, from: {', '.join(DISTILLERS.names())}")
    parser.add_argument("--baselines", default=",".join(BASELINES),
                        help=f"comma-separated, from: {', '.join(BASELINES)} (empty for none)")
    parser.add_argument("--memory", type=int, default=20, help="images per seen class (default 20)")
    parser.add_argument("--steps", type=int, default=5, help="experiences; the classes are split evenly")
    parser.add_argument("--seeds", type=int, default=3, help="seeds 0..N-1 (class order, memory, model)")
    parser.add_argument("--iterations", type=int,
                        help="distillation iterations for every iterative distiller (default: with the quick "
                             "protocol, the quick transfer budget of 100; with paper, each distiller's own)")
    parser.add_argument("--real-batch", type=int,
                        help="real images per class per distillation iteration (default: 32 with quick, as above)")
    parser.add_argument("--arch", default="convnet")
    parser.add_argument("--protocol", default="quick", help=f"training recipe, one of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs (changes its fingerprint)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    MODELS.get(args.arch)  # unknown names fail here, before any work
    baselines = [b.strip() for b in args.baselines.split(",") if b.strip()]
    distillers = [d.strip() for d in args.distillers.split(",") if d.strip()]
    for b in baselines:
        if b not in BASELINES:
            raise HarnessError(f"unknown baseline '{b}': use {' or '.join(BASELINES)}")
    for d in distillers:
        if d in BASELINES:
            raise HarnessError(f"'{d}' is a baseline memory here: list it in --baselines, not --distillers")
        DISTILLERS.get(d)
    quiet_avalanche()
    # The quick protocol comes with the quick distillation budget (a CPU run finishes), paper with the
    # distillers' published budgets; --iterations / --real-batch override either.
    budget = dict(PROFILES[args.protocol].distill_budget if args.protocol in PROFILES else ())
    budget.update((k, v) for k, v in (("iterations", args.iterations), ("real_batch", args.real_batch)) if v is not None)
    config = CLConfig(dataset=args.dataset, steps=args.steps, memory=args.memory,
                      memories=tuple(baselines + distillers), seeds=args.seeds,
                      distiller_settings=tuple(budget.items()),
                      arch=args.arch, protocol=protocol_from_args(args), device=str(resolve_device(args.device)),
                      progress=not args.no_progress)
    records = run(config, log=tqdm.write)
    info = registered_info(args.dataset)
    print(f"GDumb class-incremental on {args.dataset} ({info.source}): {args.steps} steps, {args.memory} images per "
          f"class, {args.seeds} seeds, protocol {recorded_protocols(records)}, "
          f"{config.protocol.epochs} epochs, arch {config.arch}, distiller settings "
          f"{dict(config.distiller_settings) or 'defaults'}; test accuracy % on the seen classes, mean +- 95% CI "
          f"half-width:")
    print(format_table(summarise(records), info.num_classes // args.steps))
    print(f"records: {records_path(TASK)}")


if __name__ == "__main__":
    run_command(main)
