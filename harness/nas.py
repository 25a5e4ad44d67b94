"""``python -m harness.nas --dataset fashion-mnist --distiller dm --ipc 10 --archs 20 --ground-truth train``.

NAS ranking with a distilled set (paper sec. 6.5; ``tasks/nas.py``): sample K NAS-Bench-201 cells,
train each on the distilled set and on the same-size random real subset, and report Spearman's
rho and Kendall's tau against the ground truth, the ground truth of the cell each set ranks first
and the best among the K. Ground truth: ``train`` (measured on the real training split, cached
per cell), ``table`` (the offline analog-nasbench CIFAR-10 table) or ``official`` (the
NAS-Bench-201 file, ``--nb201-file``). The set is distilled (or reused) through
``distillers._runner.distil`` with ``harness.distill``'s flags, or given with ``--synset``. Records
go to ``<output>/records/nas.jsonl``; rerunning skips finished cells.
"""

from __future__ import annotations

import argparse
import math
import time
from dataclasses import fields

from harness.cli import resolve_device, run_command

BUDGET_FLAGS = ("iterations", "real_batch")  # harness.distill's budget flags


def _number(x: float, digits: int = 2) -> str:
    return "-" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


def format_table(summaries: list[dict]) -> str:
    """One row per proxy set: K, rho, tau, top-1 ground truth, best of K, regret."""
    lines = [f"{'proxy set':>24} {'K':>4} {'rho':>7} {'tau':>7} {'top-1 GT %':>11} {'best of K %':>12} {'regret':>7}"]
    for r in summaries:
        m = r["metrics"]
        name = f"{r['distiller']} (sha {r['synset_sha256'][:8]})"
        lines.append(f"{name:>24} {m['k']:>4} {_number(m['spearman_rho'], 3):>7} {_number(m['kendall_tau'], 3):>7} "
                     f"{_number(m['top1_ground_truth']):>11} {_number(m['best_ground_truth']):>12} "
                     f"{_number(m['top1_regret']):>7}")
    return "\n".join(lines)


def main(argv=None) -> None:
    from distillers import DISTILLERS
    from distillers._base import create_distiller
    from harness.distill import add_distill_flags, distill_overrides
    from harness.nas_ground_truth import GROUND_TRUTHS, MEASURED_BUDGETS
    from harness.paths import output_root
    from harness.records import records_path
    from tasks.nas import DISCONNECTED, SEARCH_PROTOCOLS, TASK, NASConfig, run

    started = time.perf_counter()
    parser = argparse.ArgumentParser(prog="python -m harness.nas", description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion-mnist")
    parser.add_argument("--distiller", default="dm", help=f"one of: {', '.join(DISTILLERS.names())}")
    add_distill_flags(parser)
    parser.add_argument("--synset", help="a distilled artifact to use instead of distilling")
    parser.add_argument("--archs", type=int, default=100, help="K, the number of sampled cells (default 100)")
    parser.add_argument("--sample-seed", type=int, default=0, help="seed of the cell sample")
    parser.add_argument("--disconnected", choices=DISCONNECTED, default="skip",
                        help="cells whose output is unreachable: skip (sample K connected cells) or keep")
    parser.add_argument("--seeds", type=int, default=1, help="training seeds 0..N-1 per cell (default 1)")
    parser.add_argument("--protocol", choices=list(SEARCH_PROTOCOLS), default="cpu", help="search-phase protocol")
    parser.add_argument("--ground-truth", choices=GROUND_TRUTHS, default="train")
    parser.add_argument("--nb201-file", help="the NAS-Bench-201 .pth file, for --ground-truth official")
    parser.add_argument("--gt-budget", choices=list(MEASURED_BUDGETS), default="cpu",
                        help="training budget of --ground-truth train")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    settings = {f.name for f in fields(create_distiller(args.distiller).Config)}  # an unknown name fails here
    overrides = distill_overrides(args)
    for flag in BUDGET_FLAGS:  # a budget flag means nothing to a non-iterative distiller (e.g. random)
        if flag in overrides and flag not in settings:
            print(f"note: {args.distiller} has no '{flag}' setting; --{flag.replace('_', '-')} ignored")
            del overrides[flag]
    config = NASConfig(dataset=args.dataset, distiller=args.distiller, ipc=args.ipc, distill_seed=args.seed,
                       overrides=tuple(sorted(overrides.items())), synset=args.synset,
                       archs=args.archs, sample_seed=args.sample_seed, disconnected=args.disconnected,
                       seeds=args.seeds, protocol=SEARCH_PROTOCOLS[args.protocol], ground_truth=args.ground_truth,
                       nb201_file=args.nb201_file, gt_budget=MEASURED_BUDGETS[args.gt_budget],
                       device=str(resolve_device(args.device)), progress=not args.no_progress)
    records = run(config)
    summaries = [r for r in records if r.get("summary")]
    p, first = config.protocol, summaries[0]
    truth = first["protocol"]["ground_truth"]
    print(f"NAS ranking on {args.dataset}: K={config.archs} NB201 cells (sample seed {config.sample_seed}, "
          f"disconnected cells: {config.disconnected}), {config.seeds} seed(s); search protocol {p.name} "
          f"({p.fingerprint()}: C={p.C} N={p.N}, {p.training.epochs} epochs, batch {p.training.batch_size}, "
          f"lr {p.training.lr}, proxy accuracy on a fixed sample of {p.validation_images} real training images); "
          f"ground truth: {truth['source']}, {truth['metric']}; distiller settings {dict(config.overrides) or 'default'}")
    print(format_table(summaries))
    print(f"records: {records_path(TASK)}  (protocol fingerprint {first['protocol_fingerprint']})")
    for r in summaries:
        print(f"{r['distiller']} set: {r['extra']['synset']}; top-1 cell {r['metrics']['top1_arch']}")
    if config.ground_truth == "train":
        print(f"ground-truth cache: {output_root() / 'cache' / 'nas-ground-truth'}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    run_command(main)
