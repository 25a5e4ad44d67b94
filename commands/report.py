"""``python -m harness.report [--output DIR]``: collate every record into a markdown and an HTML report.

Reads ``<output>/records/*.jsonl`` (a damaged line is skipped with a warning naming its file and
line; every other record is reported), finds the synthetic sets the records name under
``<output>/synsets``, and renders every section: the overview, each task's own section (as the
task declares it), long-tailed results, efficiency and provenance.
"""

from __future__ import annotations

from commands import _common as cli
from harness.errors import HarnessError

WRITES = "writes: <output>/reports/report.md (figures beside it, under figures/) and the self-contained report.html"


def main(argv=None) -> None:
    from harness.records import records_frame, scan_records
    from reports import build_report
    from tasks import report_sections

    parser = cli.Parser(prog="python -m harness.report", description=__doc__, epilog=WRITES)
    parser.add_argument("--title", default="Dataset distillation benchmark report", help="the report's title")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    root = cli.use_output(args.output)
    records, skipped = scan_records(sorted((root / "records").glob("*.jsonl")))  # damaged lines: warned, skipped
    records = records_frame(records)
    if records.empty and skipped:
        files = sorted({str(s.path) for s in skipped})
        raise HarnessError(f"no readable records under {root / 'records'}: all {len(skipped)} non-blank line(s) of "
                           f"{', '.join(files)} are damaged (first: {skipped[0]}); the files are left as they are")
    if records.empty:
        raise HarnessError(f"no records under {root / 'records'}: run `python -m harness.evaluate --synset PATH` "
                           f"(or transfer, cl, ...) first, or point --output at the folder that holds records/")
    md, html = build_report(records, root / "reports", args.title, synset_roots=[root / "synsets"],
                            task_sections=report_sections())
    print(f"markdown: {md}")
    print(f"html: {html}")


if __name__ == "__main__":
    cli.run_command(main)
