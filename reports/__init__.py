"""Reports: every record collated into DataFrames and rendered as markdown and self-contained HTML.

``build_report(records, out_dir, title) -> (markdown_path, html_path)``; see :mod:`reports.collate`
for the record fields each section reads.
"""

from reports.render import build_report

__all__ = ["build_report"]
