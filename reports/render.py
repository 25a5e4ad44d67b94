"""Render report sections to markdown and to one self-contained HTML file (Jinja2 templates).

The HTML embeds every figure as a base64 PNG, so the single file can be mailed or published.
The markdown shows the same sections, tables and figures; its figures are PNG files written
beside it (``figures/<name>.png``), since markdown has no portable way to embed them.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

import jinja2
import pandas as pd

from harness.checkpoint import atomic_write_text
from harness.paths import output_root
from harness.provenance import now_iso
from reports.blocks import Figure, Section, Table
from reports.sections import build_sections

TEMPLATES = Path(__file__).parent / "templates"


def md_escape(text: str) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def md_table(block: dict) -> str:
    """A GitHub-flavoured pipe table; bold cells as ``**...**``."""
    lines = ["| " + " | ".join(md_escape(h) for h in block["header"]) + " |",
             "|" + "|".join("---" for _ in block["header"]) + "|"]
    for row in block["rows"]:
        lines.append("| " + " | ".join(f"**{md_escape(c)}**" if b else md_escape(c) for c, b in row) + " |")
    return "\n".join(lines)


def _environment(autoescape: bool) -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=autoescape,
                             undefined=jinja2.StrictUndefined, trim_blocks=autoescape, lstrip_blocks=True)
    env.filters["md_table"] = md_table
    return env


def _context(sections: list[Section], title: str, records: pd.DataFrame, figure_src) -> dict:
    def block(b: Table | Figure) -> dict:
        if isinstance(b, Table):
            return {"kind": "table", "caption": b.caption, "header": b.header, "wrap": b.wrap,
                    "rows": [list(zip(cells, bold)) for cells, bold in zip(b.rows, b.bold)]}
        return {"kind": "figure", "caption": b.caption, "src": figure_src(b)}

    tasks = sorted(map(str, records["task"].dropna().unique())) if "task" in records else []
    return {"title": title, "generated": now_iso(), "n_records": len(records), "tasks": ", ".join(tasks) or "none",
            "sections": [{"anchor": s.anchor, "title": s.title, "intro": s.intro, "notes": s.notes,
                          "blocks": [block(b) for b in s.blocks]} for s in sections]}


def render_markdown(sections: list[Section], title: str, records: pd.DataFrame, out_dir: Path) -> Path:
    figures = out_dir / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    for stale in figures.glob("*.png"):  # figures of an earlier report in the same folder
        stale.unlink()

    def src(fig: Figure) -> str:
        (figures / f"{fig.name}.png").write_bytes(fig.png)
        return f"figures/{fig.name}.png"

    text = _environment(False).get_template("report.md.j2").render(_context(sections, title, records, src))
    text = re.sub(r"\n{3,}", "\n\n", text).strip() + "\n"  # block tags leave runs of blank lines
    path = out_dir / "report.md"
    atomic_write_text(path, text)
    return path


def render_html(sections: list[Section], title: str, records: pd.DataFrame, out_dir: Path) -> Path:
    def src(fig: Figure) -> str:
        return "data:image/png;base64," + base64.b64encode(fig.png).decode("ascii")

    text = _environment(True).get_template("report.html.j2").render(_context(sections, title, records, src))
    path = out_dir / "report.html"
    atomic_write_text(path, text)
    return path


def build_report(records: pd.DataFrame, out_dir, title: str = "Dataset distillation report",
                 synset_roots: list[Path] | None = None, task_sections=()) -> tuple[Path, Path]:
    """Collate ``records`` (a :func:`harness.records.load_records` frame) into ``out_dir/report.md``
    and ``out_dir/report.html``, with the tasks' own sections (``task_sections``, see
    :func:`reports.sections.build_sections`); synthetic sets are looked up under ``synset_roots``
    (default ``<output>/synsets``). Returns (markdown path, HTML path)."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    sections = build_sections(records, synset_roots or [output_root() / "synsets"], task_sections)
    return (render_markdown(sections, title, records, out_dir), render_html(sections, title, records, out_dir))
