"""``python -m harness agreement-page``: regenerate ``docs/agreement.md`` from the records.

Reads ``<output>/records/*.jsonl`` (the harness's ``evaluate`` records, the ``authors-eval`` records
the drivers of the authors' code wrote, and ``agree`` records) and the manifests under
``<output>/synsets``; writes the page (``--page``). Each folder ``<output>/earlier/<name>/`` is a
2 x 2 a later run replaced, laid out the same (``records/``, ``synsets/``) with ``about.md``, one
paragraph on what changed since; the page shows it under its code. See :mod:`reports.agreement` for
how cells are matched and when a harness cell agrees with the authors'.
"""

from __future__ import annotations

from pathlib import Path

from commands import _common as cli
from harness.errors import HarnessError

WRITES = "writes: the page (--page, default docs/agreement.md); nothing under the output folder"


def read_manifests(folder: Path) -> dict[str, dict]:
    """sha256 -> manifest for every well-formed manifest under ``folder``. The tensors need not be
    there: the page reads only settings and origins, so a folder of manifests (docs/agreement-data) will do."""
    from reports.artifacts import read_manifest

    manifests = (read_manifest(path) for path in sorted(folder.rglob("*.json")))
    return {m["sha256"]: m for m in manifests if m is not None}


def read_earlier_runs(root: Path) -> tuple:
    """Every ``<root>/earlier/<name>/`` as a :class:`reports.agreement.EarlierRun`, by name."""
    from harness.records import load_records
    from reports.agreement import EarlierRun

    runs = []
    for folder in sorted(p for p in (root / "earlier").glob("*") if p.is_dir()):
        about = folder / "about.md"
        if not about.is_file():
            raise HarnessError(f"{folder} has no about.md: write one paragraph saying what changed since that run")
        records = load_records(sorted((folder / "records").glob("*.jsonl")))
        if records.empty:
            raise HarnessError(f"no records under {folder / 'records'}: an earlier run keeps the records it was judged by")
        runs.append(EarlierRun(folder.name, about.read_text().strip(), records, read_manifests(folder / "synsets")))
    return tuple(runs)


def main(argv=None) -> None:
    from harness.checkpoint import atomic_write_text
    from harness.records import load_records
    from reports.agreement import agreement_page

    parser = cli.Parser(prog="python -m harness agreement-page", description=__doc__, epilog=WRITES)
    parser.add_argument("--page", type=Path, default=Path("docs/agreement.md"), help="where to write the page")
    cli.add_output(parser)
    args = parser.parse_args(argv)
    if args.page.suffix != ".md" or args.page.is_dir():
        raise HarnessError(f"--page must name a markdown file (NAME.md), got '{args.page}'")
    root = cli.use_output(args.output)
    records = load_records(sorted((root / "records").glob("*.jsonl")))
    if records.empty:
        raise HarnessError(f"no records under {root / 'records'}: point --output at the folder the agreement runs wrote")
    manifests, earlier = read_manifests(root / "synsets"), read_earlier_runs(root)
    regenerate = "python -m harness agreement-page" + (f" --output {args.output}" if args.output else "")
    args.page.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.page, agreement_page(records, manifests, regenerate, earlier) + "\n")
    print(f"page: {args.page}")


if __name__ == "__main__":
    cli.run_command(main)
