"""``python -m harness.cl --steps 5``: class-incremental GDumb with real, herded and distilled memories
(paper sec. 6.6).

Avalanche's GDumb re-initialises the model before each experience and trains it only on the
memory (``--memory`` stored images per seen class for every method; a multi-formation set decodes
rho^2 per stored image and brings its equal-budget controls random-packed and random-decoded),
then tests it on every class seen so far. Memories: Avalanche's class-balanced random buffer
(``gdumb``), ``herding`` (``--baselines gdumb,herding``) and each ``--distillers`` set, made from
the arriving classes' images only, with pretrained networks trained on the classes seen so far.
Default (a CPU setting of minutes on 2 cores): offline Split-Fashion-MNIST, gdumb and dm, 5
stored images per class, 3 seeds, the ``quick`` protocol (300 epochs), one (memory, seed) unit per
core at a time. The paper's task is on CIFAR-100: ``--dataset cifar100 --protocol paper`` (with
``--steps 5`` or ``--steps 10`` and the memory of the table you compare with; CIFAR-100 under
``$DD_DATA``). Rerunning skips finished cells.
"""

from __future__ import annotations

from commands import _common as cli
from harness.errors import HarnessError

WRITES = ("writes: one record per (memory, step, seed) to <output>/records/continual.jsonl; distilled memories "
          "under <output>/synsets/")


def check_memories(config) -> None:
    """The steps against the dataset's classes and every memory (controls included) against their
    sizes, from the dataset's metadata, before any data is read."""
    from harness.data.core import dataset_facts
    from tasks.continual.run import BASELINES, check_config, distiller_plan, equal_budget_memories, given_memories

    check_config(config, dataset_facts(config.dataset).info.num_classes)
    given_memories(config)  # each given set verified, of the dataset, at the memory's stored count
    plans = {m: distiller_plan(m, config.distiller_settings) for m in config.memories if m not in BASELINES}
    plans.update(equal_budget_memories(plans, config.memories, config.distiller_settings))
    for name, (overrides, _, _) in {"random": ({}, None, False), **plans}.items():  # baselines pick real images
        cli.check_distillation(name, overrides, config.dataset, config.memory, flag="--memory")


def main(argv=None) -> None:
    from tqdm.auto import tqdm

    from distillers import DISTILLERS
    from harness.models import MODELS
    from tasks.continual import BASELINES, TASK, CLConfig
    from tasks.transfer import PROFILES

    parser = cli.Parser(prog="python -m harness.cl", description=__doc__, epilog=WRITES)
    cli.add_dataset(parser, "fashion-mnist", imbalance=False)
    parser.add_argument("--distillers", type=cli.names(empty_ok=True),
                        default=",".join(m for m in CLConfig.memories if m not in BASELINES),
                        help=f"comma-separated, from: {', '.join(DISTILLERS.names())} (empty for none)")
    parser.add_argument("--baselines", type=cli.names(empty_ok=True),
                        default=",".join(b for b in CLConfig.memories if b in BASELINES),
                        help=f"comma-separated, from: {', '.join(BASELINES)} (empty for none)")
    parser.add_argument("--synset", action="append", default=[], metavar="PATH",
                        help="an artifact (e.g. imported) as a memory: at each step its images of the classes seen so "
                             "far; it must store --memory images per class (repeatable)")
    parser.add_argument("--memory", type=cli.POSITIVE, default=CLConfig.memory, help="stored images per seen class")
    parser.add_argument("--steps", type=cli.POSITIVE, default=5, help="experiences; the classes are split evenly")
    cli.add_seeds(parser, 3, "seeds (class order, memory, model)")
    parser.add_argument("--iterations", type=cli.POSITIVE,
                        help="distillation iterations for every iterative distiller (default: with the quick "
                             "protocol, the quick transfer budget of 100; with paper, each distiller's own)")
    parser.add_argument("--real-batch", type=cli.POSITIVE,
                        help="real images per class per distillation iteration (default: 32 with quick, as above)")
    parser.add_argument("--arch", type=cli.one_of(MODELS), default="convnet", help="the learner's architecture")
    parser.add_argument("--workers", type=cli.whole_number(0, 1024), default=0,
                        help="(memory, seed) units trained at a time, each in its own process; 0: one per CPU core "
                             "(one process on CUDA)")
    cli.add_protocol(parser)
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    baselines, distillers = args.baselines, args.distillers
    for b in baselines:
        if b not in BASELINES:
            raise HarnessError(f"unknown baseline '{b}': use {' or '.join(BASELINES)}")
    for d in distillers:
        if d in BASELINES:
            raise HarnessError(f"'{d}' is a baseline memory here: list it in --baselines, not --distillers")
        DISTILLERS.get(d)
    protocol = cli.protocol_from_args(args)
    # The quick protocol comes with the quick distillation budget (a CPU run finishes), paper with the
    # distillers' published budgets; --iterations / --real-batch override either.
    budget = dict(PROFILES[args.protocol].distill_budget if args.protocol in PROFILES else ())
    budget.update((k, v) for k, v in (("iterations", args.iterations), ("real_batch", args.real_batch)) if v is not None)
    config = CLConfig(dataset=args.dataset, steps=args.steps, memory=args.memory,
                      memories=tuple(baselines + distillers), seeds=args.seeds,
                      distiller_settings=tuple(budget.items()), arch=args.arch, protocol=protocol,
                      workers=args.workers, synsets=tuple(args.synset), **cli.run_settings(args))
    check_memories(config)
    cli.use_output(args.output)
    details = (f"{args.steps} steps, {args.memory} images per class, {args.seeds} seeds, {config.protocol.epochs} "
               f"epochs, arch {config.arch}, distiller settings {dict(config.distiller_settings) or 'defaults'}; "
               f"test accuracy % on the seen classes")
    cli.run_task(TASK, config, "GDumb class-incremental", details, log=tqdm.write)


if __name__ == "__main__":
    cli.run_command(main)
