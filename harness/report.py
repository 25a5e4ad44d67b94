"""``python -m harness.report [--output DIR]``: collate every record into a markdown and an HTML report.

Reads ``<output>/records/*.jsonl`` (default output ``runs/`` or ``$DD_OUTPUT``), finds the
synthetic sets the records name under ``<output>/synsets``, and writes
``<output>/reports/report.md`` (figures beside it) and the self-contained ``report.html``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from harness.cli import run_command
from harness.errors import HarnessError
from harness.paths import output_root
from harness.records import load_records


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(prog="python -m harness.report", description=__doc__.splitlines()[0])
    parser.add_argument("--output", type=Path, default=None,
                        help="the output folder holding records/ and synsets/ (default $DD_OUTPUT or runs/)")
    parser.add_argument("--title", default="Dataset distillation benchmark report")
    args = parser.parse_args(argv)
    root = args.output or output_root()
    paths = sorted((root / "records").glob("*.jsonl"))
    records = load_records(paths)
    if records.empty:
        raise HarnessError(f"no records under {root / 'records'}: run `python -m harness.evaluate --synset PATH` "
                           f"(or transfer, cl, ...) first, or point --output at the folder that holds records/")
    from reports import build_report

    md, html = build_report(records, root / "reports", args.title, synset_roots=[root / "synsets"])
    print(f"markdown: {md}")
    print(f"html: {html}")


if __name__ == "__main__":
    run_command(main)
