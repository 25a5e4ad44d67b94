"""``python -m harness.bench [--only NAME ...]``: time the project's hot paths and print a table.

Every row is also recorded (``<output>/records/bench.jsonl``) with versions, git commit and
device, so before/after measurements of a change are comparable.
"""

from __future__ import annotations

import argparse

import torch

from harness.cli import resolve_device, run_command
from harness.records import RecordStore, records_path


def main(argv=None) -> None:
    from harness.benchmarks import BENCHMARKS

    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=None, help=f"any of: {', '.join(BENCHMARKS.names())}")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--repeats", type=int, default=3, help="timed repetitions after one warm-up")
    args = parser.parse_args(argv)
    args.device = resolve_device(args.device)
    names = args.only if args.only else BENCHMARKS.names()
    store = RecordStore(records_path("bench"))
    for name in names:
        rows = BENCHMARKS.get(name)(args)
        print(f"== {name} ({args.device}, {torch.get_num_threads()} threads)")
        for row in rows:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
            store.append({"task": "bench", "benchmark": name, "run": row}, row, timing={"device": str(args.device)})


if __name__ == "__main__":
    run_command(main)
