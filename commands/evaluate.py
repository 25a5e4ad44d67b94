"""``python -m harness.evaluate --synset PATH --archs convnet --protocol paper --seeds 3``.

Trains fresh models on the synthetic set, tests each once after its final epoch on the real
test split, records one result per (architecture, seed) (finished cells are skipped on rerun)
and prints mean, std and the 95% interval.
"""

from __future__ import annotations

from commands import _common as cli
from harness.errors import HarnessError

WRITES = "writes: one record per (architecture, seed) to <output>/records/evaluate.jsonl"


def main(argv=None) -> None:
    from harness.evaluation import default_store, evaluate_synset, read_synset
    from harness.models import MODELS
    from harness.records import records_frame, records_path
    from harness.synset import set_label
    from reports.blocks import text_section
    from reports.sections import overview_section

    parser = cli.Parser(prog="python -m harness.evaluate", description=__doc__, epilog=WRITES)
    parser.add_argument("--synset", required=True, help="path to NAME.safetensors (with NAME.json beside it)")
    parser.add_argument("--dataset", type=cli.dataset_name, help="refuse the set unless it was distilled from this dataset")
    parser.add_argument("--archs", "--arch", dest="archs", type=cli.names(MODELS), default="convnet",
                        help=f"comma-separated architectures from: {', '.join(MODELS.names())}")
    cli.add_protocol(parser)
    cli.add_seeds(parser, 3)
    parser.add_argument("--first-seed", type=cli.SEED, default=0,
                        help="evaluate seeds K..K+N-1 instead of 0..N-1 (e.g. each of several sets with its own "
                             "draws of weights, batches and augmentation, so they are not all one draw)")
    cli.add_run_flags(parser)
    args = parser.parse_args(argv)
    if args.first_seed + args.seeds - 1 > cli.MAX_SEED:
        raise HarnessError(f"--first-seed {args.first_seed} --seeds {args.seeds} reaches seed "
                           f"{args.first_seed + args.seeds - 1}, past the last 32-bit seed {cli.MAX_SEED}: "
                           f"start at {cli.MAX_SEED - args.seeds + 1} or lower")
    protocol = cli.protocol_from_args(args)
    synset, sha = read_synset(args.synset, args.dataset)
    cli.use_output(args.output)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    records = evaluate_synset(synset, sha, args.archs, seeds, protocol,
                              default_store("evaluate"), cli.resolve_device(args.device), progress=not args.no_progress)
    print(f"{set_label(synset)} on {synset.info.name}, ipc {synset.ipc}, protocol {protocol.name} "
          f"({protocol.for_dataset(synset.info).fingerprint()}), test accuracy %, final epoch:")
    print(text_section(overview_section(records_frame(records))))
    print(f"records: {records_path('evaluate')}")


if __name__ == "__main__":
    cli.run_command(main)
