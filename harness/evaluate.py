"""``python -m harness.evaluate --synset PATH --arch convnet --protocol paper --seeds 3``.

Trains fresh models on the synthetic set, tests each once after its final epoch on the real
test split, records one result per (architecture, seed) in ``<output>/records/evaluate.jsonl``
(finished cells are skipped on rerun) and prints mean, std and the 95% interval.
"""

from __future__ import annotations

import argparse

from harness.cli import resolve_device, run_command
from harness.evaluation import default_store, evaluate_synset, format_summary, read_synset, summary_by_arch
from harness.models import MODELS
from harness.protocol import PROTOCOLS, get_protocol
from harness.records import records_path


def add_eval_flags(parser: argparse.ArgumentParser, default_archs: str) -> None:
    parser.add_argument("--arch", "--archs", dest="archs", default=default_archs,
                        help=f"comma-separated architectures from: {', '.join(MODELS.names())}")
    parser.add_argument("--protocol", default="quick", help=f"one of: {', '.join(PROTOCOLS)}")
    parser.add_argument("--epochs", type=int, help="override the protocol's epochs (changes its fingerprint)")
    parser.add_argument("--seeds", type=int, default=3, help="evaluation seeds 0..N-1 (default 3)")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--no-progress", action="store_true")


def protocol_from_args(args):
    protocol = get_protocol(args.protocol)
    return protocol.with_overrides(epochs=args.epochs) if args.epochs else protocol


def arch_list(text: str) -> list[str]:
    archs = [a.strip() for a in text.split(",") if a.strip()]
    for a in archs:
        MODELS.get(a)  # unknown names fail here, before any work
    return archs


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.evaluate", description=__doc__.splitlines()[0])
    parser.add_argument("--synset", required=True, help="path to NAME.safetensors (with NAME.json beside it)")
    parser.add_argument("--dataset", help="refuse the set unless it was distilled from this dataset")
    add_eval_flags(parser, "convnet")
    args = parser.parse_args(argv)
    synset, sha = read_synset(args.synset, args.dataset)
    protocol = protocol_from_args(args)
    records = evaluate_synset(synset, sha, arch_list(args.archs), list(range(args.seeds)), protocol,
                              default_store("evaluate"), resolve_device(args.device), progress=not args.no_progress)
    print(f"{synset.meta.get('distiller')} on {synset.info.name}, ipc {synset.ipc}, protocol {protocol.name} "
          f"({protocol.for_dataset(synset.info).fingerprint()}), test accuracy %:")
    print(format_summary(synset.meta.get("distiller", "?"), summary_by_arch(records)))
    print(f"records: {records_path('evaluate')}")


if __name__ == "__main__":
    run_command(main)
