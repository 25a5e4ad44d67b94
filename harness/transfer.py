"""``python -m harness.transfer --distiller dm --dataset mnist --ipc 10 --seeds 3 --profile quick``.

Distils (or reuses the identical cached artifact), trains each architecture of the profile for N
seeds on the distilled set and on the same-size random real subset, prints accuracy (mean, std,
95% interval) and the paired gain over random, and writes a markdown and an HTML report of this
run (``<output>/reports/transfer-...``). ``make transfer DISTILLER=...`` runs this. Records go to
``<output>/records/transfer.jsonl``; rerunning skips finished (set, architecture, seed) cells.
Profiles (``tasks.transfer.PROFILES``): ``quick`` (CPU, minutes), ``paper`` (published protocols,
for a GPU), ``smoke`` (tests).
"""

from __future__ import annotations

import argparse
import math

from harness.cli import recorded_protocols, resolve_device, run_command
from harness.data import DEFAULT_DATASET


def _interval(s: dict | None) -> str:
    if s is None:
        return "-"
    if math.isnan(s["ci_low"]):
        return f"{s['mean']:.2f}"
    return f"{s['mean']:.2f} [{s['ci_low']:.2f}, {s['ci_high']:.2f}]"


def format_table(rows: list[dict]) -> str:
    """One line per (architecture, set): accuracy mean, std, 95% CI, and the gain over random."""
    header = f"{'arch':>9} {'set':>10} {'n':>2} {'accuracy % mean [95% CI]':>27} {'std':>6} {'gain over random [95% CI]':>27}"
    lines = [header]
    for r in rows:
        a = r["accuracy"]
        std = "-" if math.isnan(a["std"]) else f"{a['std']:.2f}"
        lines.append(f"{r['arch']:>9} {r['distiller']:>10} {a['n']:>2} {_interval(a):>27} {std:>6} "
                     f"{_interval(r['gain']):>27}")
    return "\n".join(lines)


def main(argv=None) -> None:
    from distillers._base import DISTILLERS
    from harness.evaluate import arch_list
    from harness.paths import output_root
    from harness.records import load_records, records_path
    from reports import build_report
    from tasks.transfer import PROFILES, TASK, TransferConfig, compare, get_profile, run

    parser = argparse.ArgumentParser(prog="python -m harness.transfer", description=__doc__.splitlines()[0])
    parser.add_argument("--distiller", default="dm", help=f"one of: {', '.join(DISTILLERS.names())}")
    parser.add_argument("--synset", help="evaluate this artifact (NAME.safetensors) instead of distilling")
    parser.add_argument("--dataset", default=DEFAULT_DATASET)
    parser.add_argument("--ipc", type=int, default=10, help="images per class (default 10)")
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..N-1 (default 3)")
    parser.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES)} (default quick)")
    parser.add_argument("--archs", help="comma-separated architectures (default: the profile's)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    profile = get_profile(args.profile)
    if args.synset is None:
        DISTILLERS.get(args.distiller)  # an unknown name fails here, before any work
    archs = tuple(arch_list(args.archs)) if args.archs else profile.archs
    config = TransferConfig(distiller=args.distiller, synset=args.synset, dataset=args.dataset, ipc=args.ipc,
                            archs=archs, seeds=args.seeds, protocol=profile.protocol,
                            distill_budget=profile.distill_budget, device=str(resolve_device(args.device)),
                            progress=not args.no_progress)
    records = run(config)
    first = records[0]
    name = args.distiller if args.synset is None else next(
        (r["distiller"] for r in records if r["distiller"] != "random"), "random")
    print(f"\ntransfer of {name} on {first['dataset']}, ipc {first['ipc']}, profile {args.profile}: protocol "
          f"{recorded_protocols(records)}, {config.protocol.epochs} epochs, "
          f"distillation budget {dict(config.distill_budget) or 'the distiller defaults'}; "
          f"test accuracy on the real test split, final epoch:")
    print(format_table(compare(records)))
    keys = {r["key"] for r in records}
    frame = load_records([records_path(TASK)])
    out_dir = output_root() / "reports" / f"transfer-{first['dataset']}-{name}-ipc{first['ipc']}-{args.profile}"
    markdown, html = build_report(frame[frame["key"].isin(keys)],
                                  out_dir, f"Transfer: {name} on {first['dataset']}, IPC {first['ipc']}")
    print(f"records: {records_path(TASK)}\nreport: {markdown}\nreport: {html}")


if __name__ == "__main__":
    run_command(main)
