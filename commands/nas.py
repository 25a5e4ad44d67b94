"""``python -m harness.nas --dataset fashion-mnist --distiller dm --ipc 10 --cells 20``: NAS ranking.

NAS ranking with a distilled set (paper sec. 6.5; ``tasks/nas/``): sample K NAS-Bench-201 cells,
train each on the distilled set and on the same-size random real subset, and report Spearman's
rho and Kendall's tau against the ground truth, the ground truth of the cell each set ranks first
and the best among the K, beside the ceiling rows: a larger real subset and the ground truth's own
second seed. Ground truth: ``shipped`` (the harness's measurement on Fashion-MNIST, in the package;
``python -m harness nas-truth`` made it), ``train`` (measured here, cached per cell), ``table`` (the offline analog-nasbench CIFAR-10 table) or ``official`` (the
NAS-Bench-201 file, ``--nb201-file``). The set is distilled (or reused) with ``harness.distill``'s
flags (default with the cpu search protocol: transfer's quick budget, 100 iterations of 32 real
images per class, and the pretrained-extractor budget; with ``--search-protocol paper``, the
distiller's published budget), or given with ``--synset``. Rerunning skips finished cells.
"""

from __future__ import annotations

import time

from commands import _common as cli

WRITES = ("writes: records to <output>/records/nas.jsonl, the measured ground truth per cell under "
          "<output>/cache/nas-ground-truth/, the sets under <output>/synsets/")


def main(argv=None) -> None:
    from distillers import DISTILLERS, setting_names, settings_it_has
    from harness.paths import output_root
    from harness.evaluation import read_synset
    from tasks.nas import DISCONNECTED, SEARCH_PROTOCOLS, TASK, NASConfig, sample_cells
    from tasks.nas.ground_truth import DEFAULT_GT_BUDGET, MEASURED_BUDGETS
    from tasks.nas.run import REAL_IPC_FACTOR
    from tasks.nas.sources import GROUND_TRUTHS, check_ground_truth
    from tasks.transfer import PROFILES

    started = time.perf_counter()
    parser = cli.Parser(prog="python -m harness.nas", description=__doc__, epilog=WRITES,
                        renamed={"--archs": "--cells", "--protocol": "--search-protocol"})
    cli.add_dataset(parser, "fashion-mnist", imbalance=False)
    parser.add_argument("--distiller", type=cli.one_of(DISTILLERS), default="dm", help=f"one of: {', '.join(DISTILLERS.names())}")
    cli.add_distill_flags(parser)
    parser.add_argument("--synset", help="a distilled artifact to use instead of distilling")
    parser.add_argument("--cells", type=cli.POSITIVE, default=100, help="K, the number of sampled NB201 cells")
    parser.add_argument("--sample-seed", type=cli.SEED, default=0, help="seed of the cell sample")
    parser.add_argument("--disconnected", choices=DISCONNECTED, default="skip",
                        help="cells whose output is unreachable: skip (sample K connected cells) or keep")
    cli.add_seeds(parser, 1, "training seeds per cell")
    parser.add_argument("--real-ipc", type=cli.POSITIVE,
                        help=f"images per class of the larger random real subset (default: {REAL_IPC_FACTOR} x --ipc, capped)")
    parser.add_argument("--search-protocol", type=cli.one_of(SEARCH_PROTOCOLS), default="cpu",
                        help=f"how each cell is trained on the proxy set, one of: {', '.join(SEARCH_PROTOCOLS)}")
    parser.add_argument("--ground-truth", type=cli.one_of(GROUND_TRUTHS), default="shipped",
                        help=f"one of: {', '.join(GROUND_TRUTHS)} (shipped: the package's measurement, offline)")
    parser.add_argument("--nb201-file", help="the NAS-Bench-201 .pth file, for --ground-truth official")
    parser.add_argument("--gt-budget", type=cli.one_of(MEASURED_BUDGETS), help=f"training budget of --ground-truth train, one of: {', '.join(MEASURED_BUDGETS)} "
                                          f"(default: {DEFAULT_GT_BUDGET}, the budget of the shipped file)")
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    search = SEARCH_PROTOCOLS.get(args.search_protocol)
    budget = MEASURED_BUDGETS.get(args.gt_budget) if args.gt_budget else None
    GROUND_TRUTHS.get(args.ground_truth)
    settings = setting_names(args.distiller)  # an unknown name fails here
    overrides = cli.distill_overrides(args)
    for flag in ("iterations", "real_batch"):  # a budget flag means nothing to a non-iterative distiller
        if flag in overrides and flag not in settings:
            print(f"note: {args.distiller} has no '{flag}' setting; --{flag.replace('_', '-')} ignored")
            del overrides[flag]
    if args.search_protocol == "cpu":  # the CPU search comes with the quick distillation budget, as transfer
        overrides = {**settings_it_has(args.distiller, PROFILES["quick"].distill_budget), **overrides}
    sample_cells(args.cells, args.sample_seed, args.disconnected)
    check_ground_truth(args.ground_truth, args.dataset, args.nb201_file, budget)
    if args.synset is not None:
        read_synset(args.synset, args.dataset)
    else:
        cli.check_distillation(args.distiller, overrides, args.dataset, args.ipc)
    cli.use_output(args.output)
    config = NASConfig(dataset=args.dataset, distiller=args.distiller, ipc=args.ipc, distill_seed=args.seed,
                       overrides=tuple(sorted(overrides.items())), synset=args.synset,
                       cells=args.cells, sample_seed=args.sample_seed, disconnected=args.disconnected,
                       seeds=args.seeds, protocol=search, ground_truth=args.ground_truth,
                       nb201_file=args.nb201_file, gt_budget=budget, real_ipc=args.real_ipc,
                       **cli.run_settings(args))
    p = config.protocol
    records = cli.run_task(TASK, config, "NAS ranking", (
        f"K={config.cells} NB201 cells (sample seed {config.sample_seed}, disconnected cells: "
        f"{config.disconnected}), {config.seeds} seed(s); search protocol C={p.C} N={p.N}, {p.training.epochs} "
        f"epochs, batch {p.training.batch_size}, lr {p.training.lr}, proxy accuracy on a fixed sample of "
        f"{p.validation_images} real training images; ground truth {args.ground_truth}; distiller settings "
        f"{dict(config.overrides) or 'default'}"))
    summaries = [r for r in records if r.get("summary")]
    truth = summaries[0]["protocol"]["ground_truth"]
    print(f"ground truth: {truth['source']}, {truth['metric']}")
    for r in summaries:
        where = f"set {r['extra']['synset']}" if "synset" in r["extra"] else "no set (the ground truth's replicate)"
        print(f"{r['distiller']}: {where}; top-1 cell {r['metrics']['top1_arch']}")
    if config.ground_truth == "train":
        print(f"ground-truth cache: {output_root() / 'cache' / 'nas-ground-truth'}")
    print(f"wall time: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    cli.run_command(main)
