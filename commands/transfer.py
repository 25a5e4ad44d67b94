"""``python -m harness.transfer --distiller dm --dataset mnist --ipc 1 --seeds 3 --profile quick``.

Cross-architecture transfer (``make transfer DISTILLER=...``): distils (or reuses the identical
cached artifact), trains each architecture of the profile for N seeds on the distilled set and on
the same-size random real subset, prints accuracy (mean, std, 95% interval) and the paired gain
over random (with ``--references N``, also each architecture on real data: a random subset at 10x
the IPC and the full training split for ``--full-epochs``), and writes a markdown and an HTML report of this run. Rerunning skips finished
(set, architecture, seed) cells.

A profile is an evaluation protocol plus a distillation budget plus default architectures:
``quick`` (CPU, minutes), ``paper`` (the published protocols and budgets, for a GPU), ``smoke``
(tests); ``python -m harness ls`` lists them with their protocols.
"""

from __future__ import annotations

from commands import _common as cli
from harness.data import DEFAULT_DATASET
from harness.errors import HarnessError

WRITES = ("writes: records to <output>/records/transfer.jsonl (reference rows: transfer-reference.jsonl), the sets under <output>/synsets/, and "
          "<output>/reports/transfer-<dataset>-<distiller>-ipc<K>-<profile>/report.md and report.html")
DEFAULT_DISTILLER = "dm"


def main(argv=None) -> None:
    from distillers import DISTILLERS, create_distiller
    from harness.paths import output_root
    from harness.records import records_frame
    from reports import build_report
    from tasks import report_sections
    from tasks.transfer import PROFILES, TASK, TransferConfig

    parser = cli.Parser(prog="python -m harness.transfer", description=__doc__, epilog=WRITES)
    parser.add_argument("--distiller", help=f"one of: {', '.join(DISTILLERS.names())} (default {DEFAULT_DISTILLER})")
    parser.add_argument("--synset", help="evaluate this artifact (NAME.safetensors) instead of distilling")
    cli.add_dataset(parser, DEFAULT_DATASET, imbalance=False)
    parser.add_argument("--ipc", type=cli.POSITIVE, default=None,
                        help="images per class (default: the profile's, quick 1, paper 10)")
    cli.add_seeds(parser, 3)
    parser.add_argument("--profile", default="quick", help=f"one of: {', '.join(PROFILES)}")
    parser.add_argument("--archs", help="comma-separated architectures (default: the profile's)")
    parser.add_argument("--references", type=cli.whole_number(0), default=None,
                        help="seeds of the reference rows on real data (a random subset at 10x the IPC under the "
                             "same protocol, and the full training split for --full-epochs); 0 for none "
                             "(default: the profile's)")
    parser.add_argument("--full-epochs", type=cli.whole_number(0), default=None,
                        help="epochs of the full-training-split reference row; 0 leaves the row out (default: the "
                             "profile's)")
    cli.add_set_flag(parser, "a setting of the distiller (not of its controls), over the profile's budget, e.g. "
                             "--set pretrain=cpu-10epoch")
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    if args.distiller and args.synset:
        raise HarnessError("give --distiller (distil a set) or --synset (evaluate an artifact), not both")
    if args.set and args.synset:
        raise HarnessError("--set changes how a set is distilled: it cannot apply to --synset (an artifact)")
    distiller = args.distiller or DEFAULT_DISTILLER
    profile = PROFILES.get(args.profile)
    settings = cli.parse_settings(args.set)
    if args.synset is None:
        create_distiller(distiller, settings)  # an unknown name or setting fails here, before any work
    archs = tuple(cli.arch_list(args.archs)) if args.archs else profile.archs
    cli.use_output(args.output)
    config = TransferConfig(distiller=distiller, synset=args.synset, dataset=args.dataset, ipc=args.ipc or profile.ipc,
                            archs=archs, seeds=args.seeds, protocol=profile.protocol,
                            distill_budget=profile.distill_budget, settings=tuple(settings.items()),
                            references=profile.references if args.references is None else args.references,
                            full_epochs=profile.full_epochs if args.full_epochs is None else args.full_epochs, **cli.run_settings(args))
    what = distiller if args.synset is None else args.synset
    records = cli.run_task(TASK, config, f"\ntransfer of {what}", (
        f"profile {args.profile}, {config.protocol.epochs} epochs, distillation budget "
        f"{dict(config.distill_budget) or 'the distiller defaults'}"
        f"{f', distiller settings {settings}' if settings else ''}; test accuracy % on the real test split, "
        f"final epoch"))
    first = records[0]
    name = distiller if args.synset is None else next(
        (r["distiller"] for r in records if r["distiller"] != "random"), "random")
    variant = "".join(f"-{k}={v}" for k, v in sorted(settings.items())).replace("/", "_")
    folder = name.replace(" (imported)", "-imported").replace("/", "_").replace(" ", "_")  # an imported set's name
    out_dir = output_root() / "reports" / (f"transfer-{first['dataset']}-{folder}{variant}-ipc{first['ipc']}-"
                                           f"{args.profile}")
    title = f"Transfer: {name} on {first['dataset']}, IPC {first['ipc']}"
    markdown, html = build_report(records_frame(records), out_dir, title, task_sections=report_sections())
    print(f"report: {markdown}\nreport: {html}")


if __name__ == "__main__":
    cli.run_command(main)
