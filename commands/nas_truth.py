"""``python -m harness nas-truth --dataset fashion-mnist --cells 100 --seeds 2``: measure a NAS-Bench-201
ground truth and write it into the package (``tasks/nas/data/<dataset>.json``).

Each of the K cells (sample seed 0, connected cells) is trained on the real training split under
the ``--gt-budget`` once per seed and tested once on the test split after its final epoch (the
harness's cache keeps every cell, so an interrupted run continues). Before writing, it prints the
seed-to-seed Spearman's rho with its bootstrap 95% interval: the ground truth's reliability.
``python -m harness.nas --ground-truth shipped`` (the default) then uses the file offline, after
checking its checksum and budget; ``--ground-truth train`` recomputes it.
"""

from __future__ import annotations

from commands import _common as cli

WRITES = ("writes: tasks/nas/data/<dataset>.json inside the package, each cell's measurement under "
          "<output>/cache/nas-ground-truth/")


def main(argv=None) -> None:
    from harness.metrics.ranking import bootstrap_interval, spearman_rho
    from tasks.nas import sample_cells
    from tasks.nas.ground_truth import DEFAULT_GT_BUDGET, MEASURED_BUDGETS, ShippedGroundTruth, write_shipped

    parser = cli.Parser(prog="python -m harness nas-truth", description=__doc__, epilog=WRITES)
    cli.add_dataset(parser, "fashion-mnist", imbalance=False)
    parser.add_argument("--cells", type=cli.POSITIVE, default=100, help="K, the number of sampled NB201 cells")
    cli.add_seeds(parser, 2, "ground-truth seeds")
    parser.add_argument("--gt-budget", type=cli.one_of(MEASURED_BUDGETS), default=DEFAULT_GT_BUDGET, help=f"one of: {', '.join(MEASURED_BUDGETS)}")
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    budget = MEASURED_BUDGETS.get(args.gt_budget)
    cells = sample_cells(args.cells, 0)
    cli.use_output(args.output)
    if args.seeds < 2:
        print("note: with one seed the file carries no reliability figure")
    print(f"measuring {len(cells)} cells x {args.seeds} seeds under {budget.name} ({budget.fingerprint()}); "
          f"cells already measured are read from the cache")
    settings = cli.run_settings(args)
    path = write_shipped(args.dataset, budget, list(range(args.seeds)), cells, 0, settings["device"],
                         settings["progress"])
    truth = ShippedGroundTruth(args.dataset)
    if args.seeds >= 2:
        a, b = [truth.accuracy(c) for c in cells], [truth.replicate().accuracy(c) for c in cells]
        low, high = bootstrap_interval(a, b, spearman_rho)
        print(f"seed 0 vs seed 1 over {len(cells)} cells: Spearman rho {spearman_rho(a, b):.3f} "
              f"(bootstrap 95% interval {low:.3f}..{high:.3f})")
    print(f"wrote {path} (sha256 {truth.content['sha256'][:12]})")


if __name__ == "__main__":
    cli.run_command(main)
