"""``python -m harness.distill --distiller dm --dataset mnist --ipc 10``: distil and write an artifact.

Writes ``NAME.safetensors`` + ``NAME.json`` (default under ``<output>/synsets/``), checkpoints every
``--checkpoint-every`` iterations and continues from the checkpoint when rerun (``--resume``, on
by default); an identical artifact already on disk is reused. Under
``torchrun --nproc_per_node=K -m harness.distill ...`` the classes are split across K ranks
(see ``harness/distributed.py``); rank 0 writes the artifact, whose manifest records the world size.
"""

from __future__ import annotations

import argparse

from harness.cli import add_common_flags, resolve_device, run_command
from harness.distributed import init_from_env, rank_and_size
from harness.errors import HarnessError


def parse_settings(pairs: list[str]) -> dict:
    """``["lr_images=0.5", "dsa=false"]`` -> dict (values coerced later by the config type)."""
    out = {}
    for pair in pairs:
        if "=" not in pair:
            raise HarnessError(f"--set expects key=value, got '{pair}'")
        key, value = pair.split("=", 1)
        out[key.strip().replace("-", "_")] = value.strip()
    return out


def add_distill_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ipc", type=int, default=10, help="images per class (default 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--iterations", type=int, help="override the distiller's iteration budget")
    parser.add_argument("--real-batch", type=int, help="real images per class per iteration")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="any other distiller setting, e.g. --set lr_images=0.5 (repeatable)")


def distill_overrides(args) -> dict:
    overrides = parse_settings(args.set)
    if args.iterations is not None:
        overrides["iterations"] = args.iterations
    if args.real_batch is not None:
        overrides["real_batch"] = args.real_batch
    return overrides


def main(argv=None) -> None:
    from distillers import DISTILLERS
    from distillers._runner import distil

    parser = argparse.ArgumentParser(prog="python -m harness.distill", description=__doc__.splitlines()[0])
    parser.add_argument("--distiller", required=True, help=f"one of: {', '.join(DISTILLERS.names())}")
    add_common_flags(parser)
    add_distill_flags(parser)
    parser.add_argument("--output", help="artifact path (default under <output>/synsets/)")
    parser.add_argument("--checkpoint-every", type=int, help="iterations between checkpoints")
    parser.add_argument("--no-resume", action="store_true", help="ignore an existing checkpoint")
    parser.add_argument("--no-progress", action="store_true")
    args = parser.parse_args(argv)
    overrides = distill_overrides(args)
    if args.checkpoint_every is not None:
        overrides["checkpoint_every"] = args.checkpoint_every
    device = init_from_env(resolve_device(args.device))  # joins torchrun's process group, if any
    rank = rank_and_size()[0]
    path = distil(args.distiller, args.dataset, args.ipc, args.seed, overrides, device, args.imbalance,
                  args.output, resume=not args.no_resume, progress=not args.no_progress and rank == 0,
                  log=print if rank == 0 else (lambda line: None))
    if rank == 0:
        print(path)


if __name__ == "__main__":
    run_command(main)
