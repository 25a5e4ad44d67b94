"""``python -m harness.bench [--only NAME ... | all]``: time the project's hot paths and print a table.

Every row is also recorded (``<output>/records/bench.jsonl``) with versions, git commit and
device, so before/after measurements of a change are comparable.
"""

from __future__ import annotations

import torch

from commands import _common as cli
from harness.errors import HarnessError
from harness.records import RecordStore, records_path

WRITES = "writes: one record per printed row to <output>/records/bench.jsonl"
DEFAULT_BENCHMARKS = ("distill", "eval-seeds")  # minutes on 2 CPU cores (3.4 min measured); --only all for every one


def main(argv=None) -> None:
    from commands.benchmarks import BENCHMARKS

    parser = cli.Parser(prog="python -m harness.bench", description=__doc__, epilog=WRITES)
    def benchmark(name: str) -> str:
        return name if name == "all" else cli.one_of(BENCHMARKS)(name)

    benchmark.kind = "name"
    parser.add_argument("--only", nargs="+", type=benchmark, default=list(DEFAULT_BENCHMARKS),
                        help=f"any of: {', '.join(BENCHMARKS.names())}, or all (eval-train and ncfm-authors add "
                             f"most of the time: every benchmark took 19 minutes on 2 shared cores)")
    parser.add_argument("--repeats", type=cli.whole_number(1, 1000), default=3, help="timed repetitions after one warm-up")
    cli.add_run_flags(parser, progress=False)
    args = parser.parse_args(argv)
    if len(set(args.only)) < len(args.only) or ("all" in args.only and len(args.only) > 1):
        raise HarnessError(f"--only lists {' '.join(args.only)}: name each benchmark once, or all alone")
    names = BENCHMARKS.names() if args.only == ["all"] else args.only
    args.device = cli.resolve_device(args.device)
    cli.use_output(args.output)
    store = RecordStore(records_path("bench"))
    for name in names:
        rows = BENCHMARKS.get(name)(args)
        print(f"== {name} ({args.device}, {torch.get_num_threads()} threads)")
        for row in rows:
            print("  " + "  ".join(f"{k}={v}" for k, v in row.items()))
            store.append({"task": "bench", "benchmark": name, "run": row}, row, timing={"device": str(args.device)})


if __name__ == "__main__":
    cli.run_command(main)
