"""``python -m harness.distill --distiller dm --dataset mnist --ipc 10``: distil and write an artifact.

``--budget quick`` (default, a CPU budget of minutes: 100 iterations of 32 real images per class,
NCFM/CSDM's extractor one network pretrained on 10,000 images) or ``--budget paper`` (the
distiller's published one, e.g. DM 20,000 iterations of 256; hours on a CPU); ``--iterations``,
``--real-batch`` and ``--set`` override either. The manifest records the resulting config.

Checkpoints every ``--checkpoint-every`` iterations and continues from the checkpoint when rerun
(unless ``--no-resume``); an identical artifact already on disk is reused. Under
``torchrun --nproc_per_node=K -m harness.distill ...`` the classes are split across K ranks
(see ``harness/distributed.py``); rank 0 writes the artifact, whose manifest records the world size.
"""

from __future__ import annotations

from pathlib import Path

from commands import _common as cli
from harness.data import DEFAULT_DATASET
from harness.errors import HarnessError

WRITES = ("writes: <output>/synsets/<dataset>/<distiller>/ipc<K>-seed<S>-<hash>.safetensors and .json beside it "
          "(or --artifact PATH), a checkpoint beside it while running, pretrained models under <output>/cache/")


def main(argv=None) -> None:
    from distillers import BUDGETS, DISTILLERS, distil, settings_it_has
    from harness.distributed import init_from_env, rank_and_size

    parser = cli.Parser(prog="python -m harness.distill", description=__doc__, epilog=WRITES)
    parser.add_argument("--distiller", type=cli.one_of(DISTILLERS), required=True,
                        help=f"one of: {', '.join(DISTILLERS.names())}")
    cli.add_dataset(parser, DEFAULT_DATASET)
    cli.add_distill_flags(parser)
    parser.add_argument("--budget", type=cli.one_of(BUDGETS), default="quick",
                        help=f"distillation budget under the flags above, one of: {', '.join(BUDGETS)}")
    parser.add_argument("--artifact", type=Path, metavar="PATH", help="artifact path (default under <output>/synsets/)")
    parser.add_argument("--checkpoint-every", type=cli.POSITIVE,
                        help="iterations between checkpoints (default: the distiller's checkpoint_every, 100)")
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    if args.output is not None and args.output.suffix in (".safetensors", ".json"):
        raise HarnessError(f"--output is the output folder, not the artifact ({args.output}): use --artifact PATH")
    if args.artifact is not None:
        cli.check_new_file(args.artifact, "--artifact")
    imbalance = cli.imbalance_from_args(args)
    overrides = {**settings_it_has(args.distiller, BUDGETS.get(args.budget)), **cli.distill_overrides(args)}
    if args.checkpoint_every is not None:
        overrides["checkpoint_every"] = args.checkpoint_every
    config = cli.check_distillation(args.distiller, overrides, args.dataset, args.ipc, imbalance).config
    cli.use_output(args.output)
    device = init_from_env(cli.resolve_device(args.device))  # joins torchrun's process group, if any
    rank = rank_and_size()[0]
    if rank == 0 and hasattr(config, "iterations"):
        own = {"quick": " (a CPU budget; --budget paper for the distiller's published one)",
               "paper": " (the distiller's published budget)"}.get(args.budget, "")
        changed = sorted(k for k in cli.distill_overrides(args) if k in ("iterations", "real_batch"))
        own = f" ({' and '.join(changed)} from the command line, the rest from the budget)" if changed else own
        bar = "" if args.no_progress else "; the progress bar estimates the time after the first iterations"
        print(f"distill: {args.distiller}, budget {args.budget}: {config.iterations} iterations of "
              f"{config.real_batch} real images per class{own}{bar}")
    path = distil(args.distiller, args.dataset, args.ipc, args.seed, overrides, device, imbalance,
                  args.artifact, resume=not args.no_resume, progress=not args.no_progress and rank == 0,
                  log=print if rank == 0 else (lambda line: None))
    if rank == 0:
        print(path)


if __name__ == "__main__":
    cli.run_command(main)
