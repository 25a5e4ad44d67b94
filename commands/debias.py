"""``python -m harness.debias --ipc 10 --seeds 5 --protocol quick``: de-biased condensation (paper sec. 6.8).

Distils the training split with each method, trains a fresh model per seed on each synthetic set
and reports average, worst-group and per-group accuracy over (label, attribute) groups, with
95% intervals over seeds. The default dataset is the offline STAND-IN ``colored-mnist-spurious``
(not CelebA; colour agrees with the label for 95% of training images, ``colored-mnist-spurious-90`` /
``-99`` for 90% / 99%); ``--dataset celeba-blond`` reads CelebA from ``$DD_DATA``. ``--split val``
measures on the validation split, where settings (``--set key=value``) are chosen. Prints mean, 95%
interval, median and interquartile range over seeds, and every seed. Rerunning skips finished cells.
"""

from __future__ import annotations

from commands import _common as cli

WRITES = "writes: one record per (method, seed) to <output>/records/debias.jsonl; the sets under <output>/synsets/"


def check_methods(config) -> None:
    """The dataset (an attribute, the split), every setting and every method's distillation at the
    IPC, from the registries and the dataset's metadata, before any data is read."""
    from harness.data.attributes import attribute_of
    from harness.data.core import check_dataset
    from harness.synset import load_synset
    from tasks.debias.run import check_settings, method_plan

    attribute_of(config.dataset)
    check_dataset(config.dataset, config.split)
    check_settings(config.methods, dict(config.settings))
    budget = {"iterations": config.iterations, "real_batch": config.real_batch, **dict(config.settings)}
    for name in config.methods:
        distiller, overrides, _ = method_plan(name, budget)
        cli.check_distillation(distiller, overrides, config.dataset, config.ipc)
    for path in config.synsets:  # each given set verified and of the dataset
        load_synset(path, expect_dataset=config.dataset)


def main(argv=None) -> None:
    from harness.data.spurious import NAME as STAND_IN
    from harness.models import MODELS
    from tasks.debias import DEFAULT_METHODS, METHODS, TASK, DebiasConfig

    parser = cli.Parser(prog="python -m harness.debias", description=__doc__, epilog=WRITES)
    cli.add_dataset(parser, STAND_IN, imbalance=False)
    parser.add_argument("--ipc", type=cli.POSITIVE, default=10, help="images per class")
    cli.add_seeds(parser, DebiasConfig.seeds, "seeds (distillation and evaluation)")
    parser.add_argument("--iterations", type=cli.POSITIVE, default=DebiasConfig.iterations,
                        help="distillation iterations for every iterative method (the CPU budget the task's "
                             "settings were chosen at; a distiller's published budget is e.g. --iterations 20000)")
    parser.add_argument("--real-batch", type=cli.POSITIVE, default=DebiasConfig.real_batch,
                        help="real images per class per iteration, every iterative method")
    cli.add_set_flag(parser, "a distiller setting for every method that has it, e.g. --set attribute_weight=10")
    parser.add_argument("--split", default="test", choices=("test", "val"),
                        help="where to measure: test, or val, the split on which to choose settings")
    parser.add_argument("--methods", type=cli.names(METHODS), default=",".join(DEFAULT_METHODS),
                        help=f"comma-separated, from: {', '.join(METHODS)} (the paper's table 8: all five)")
    parser.add_argument("--synset", action="append", default=[], metavar="PATH",
                        help="an artifact of the dataset (e.g. imported) to compare beside the methods (repeatable)")
    parser.add_argument("--arch", type=cli.one_of(MODELS), default="convnet", help="evaluation architecture")
    cli.add_protocol(parser)
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    protocol = cli.protocol_from_args(args)
    config = DebiasConfig(dataset=args.dataset, ipc=args.ipc, seeds=args.seeds, iterations=args.iterations,
                          real_batch=args.real_batch, settings=tuple(cli.parse_settings(args.set).items()),
                          split=args.split, methods=tuple(args.methods), synsets=tuple(args.synset), arch=args.arch,
                          protocol=protocol,
                          **cli.run_settings(args))
    check_methods(config)
    cli.use_output(args.output)
    settings = "".join(f", {k}={v}" for k, v in config.settings)
    cli.run_task(TASK, config, "de-biased condensation",
                 f"ipc {args.ipc}, {args.seeds} seeds, arch {config.arch}, distillation iterations "
                 f"{args.iterations or 'each default'}, real batch {args.real_batch or 'each default'}{settings}; "
                 f"{args.split} accuracy %")


if __name__ == "__main__":
    cli.run_command(main)
