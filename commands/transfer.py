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


def check_sets(distiller: str, settings: dict, args, profile, references: int) -> None:
    """Every set the run will distil, before any is: the distiller's (or the artifact's), its
    equal-budget controls and the reference rows' random subsets, against the dataset's class sizes."""
    from distillers import settings_it_has
    from distillers.equal_budget import budget_controls
    from harness.data.core import dataset_facts
    from harness.evaluation import read_synset
    from tasks.transfer.references import REAL_IPC_FACTOR

    if args.synset is not None:
        synset = read_synset(args.synset, args.dataset)[0]
        dataset, ipc, rho = synset.info.name, synset.ipc, int(synset.meta.get("multi_formation", 1))
        imbalance = synset.info.imbalance
    else:
        dataset, ipc, imbalance = args.dataset, args.ipc or profile.ipc, 100.0
        budget = settings_it_has(distiller, profile.distill_budget)
        config = cli.check_distillation(distiller, {**budget, **settings}, dataset, ipc).config
        rho = getattr(config, "multi_formation", 1)
    for name, control, _ in budget_controls(rho, ipc):
        cli.check_distillation(name, control, dataset, ipc, imbalance)
    smallest = min(dataset_facts(dataset, imbalance).counts)
    if references and REAL_IPC_FACTOR * ipc > smallest:
        raise HarnessError(f"the reference rows draw {REAL_IPC_FACTOR} x IPC = {REAL_IPC_FACTOR * ipc} real images per "
                           f"class but {dataset}'s smallest class has {smallest}: use --references 0 or --ipc "
                           f"{smallest // REAL_IPC_FACTOR} or less")


def main(argv=None) -> None:
    from distillers import DISTILLERS
    from harness.models import MODELS
    from harness.paths import output_root
    from harness.records import records_frame
    from reports import build_report
    from tasks import report_sections
    from tasks.transfer import PROFILES, TASK, TransferConfig

    parser = cli.Parser(prog="python -m harness.transfer", description=__doc__, epilog=WRITES)
    parser.add_argument("--distiller", type=cli.one_of(DISTILLERS), help=f"one of: {', '.join(DISTILLERS.names())} (default {DEFAULT_DISTILLER})")
    parser.add_argument("--synset", help="evaluate this artifact (NAME.safetensors) instead of distilling")
    cli.add_dataset(parser, DEFAULT_DATASET, imbalance=False)
    parser.add_argument("--ipc", type=cli.POSITIVE, default=None,
                        help="images per class (default: the profile's, quick 1, paper 10)")
    cli.add_seeds(parser, 3)
    parser.add_argument("--profile", type=cli.one_of(PROFILES), default="quick", help=f"one of: {', '.join(PROFILES)}")
    parser.add_argument("--archs", type=cli.names(MODELS), help="comma-separated architectures (default: the profile's)")
    parser.add_argument("--references", type=cli.whole_number(0, cli.MAX_SEEDS), default=None,
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
    archs = tuple(args.archs) if args.archs else profile.archs
    references = profile.references if args.references is None else args.references
    check_sets(distiller, settings, args, profile, references)
    cli.use_output(args.output)
    config = TransferConfig(distiller=distiller, synset=args.synset, dataset=args.dataset, ipc=args.ipc or profile.ipc,
                            archs=archs, seeds=args.seeds, protocol=profile.protocol,
                            distill_budget=profile.distill_budget, settings=tuple(settings.items()),
                            references=references,
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
