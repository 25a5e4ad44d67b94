"""The report's building blocks: tables, figures and sections, and the formatting every section
shares (intervals, gains, protocol captions, notes). Generic reports and each task's own section
(``tasks/<task>/report.py``) are made of these."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from harness.metrics.stats import format_interval
from reports import collate as C

PM = "\u00b1"
DASH = "\u2013"


@dataclass
class Table:
    caption: str
    header: list[str]
    rows: list[list[str]]
    bold: list[list[bool]]
    wrap: bool = False  # numeric comparison tables keep cells on one line; text tables wrap


@dataclass
class Figure:
    caption: str
    png: bytes
    name: str  # file stem, unique in the report


@dataclass
class Section:
    anchor: str
    title: str
    intro: str
    notes: list[str] = field(default_factory=list)
    blocks: list[Table | Figure] = field(default_factory=list)


# ---------------------------------------------------------------- formatting

def fmt_interval(r, digits: int = 2) -> str:
    """``mean +- std [low, high], n=k`` (95% t-interval over seeds); one seed has no spread."""
    return format_interval(r, digits, with_std=True)


def fmt_gain(r) -> str:
    """The paired gain over random, ``+d [low, high], n=k``, or a dash when there is none."""
    if not r.get("gain_n"):
        return DASH
    return format_interval({"n": r["gain_n"], "mean": r["gain_mean"], "ci_low": r["gain_low"],
                            "ci_high": r["gain_high"]}, signed=True)


def fmt_bytes(n) -> str:
    """Stored bytes in decimal units: ``31.4 kB``, ``1.2 MB``."""
    for unit, size in (("MB", 1e6), ("kB", 1e3)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{int(n)} B"


STORED_NOTE = ("Stored: the bytes a user keeps to use a set, as the artifact stores them (float32 images before "
               "multi-formation decoding, int64 labels, float32 soft labels).")


def with_stored_bytes(labels: pd.Series, df: pd.DataFrame) -> pd.Series:
    """Row labels with the bytes a user stores to use the set, where the records say:
    ``ncfm (31.4 kB stored)``, so sets of one IPC but unequal storage are never read as equals."""
    stored = C.stored_bytes_column(df)
    return pd.Series([label if pd.isna(n) else f"{label} ({fmt_bytes(n)} stored)" for label, n in zip(labels, stored)],
                     index=labels.index)


def fmt_number(x, digits: int = 2) -> str:
    return DASH if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}f}"


WRAP_AFTER = 4


def wide_table(caption: str, long: pd.DataFrame, row: str, columns: list[tuple[str, str, callable]],
               col_key, row_header: str) -> Table:
    """Pivot ``long`` (one row per (row value, column key)) into a table; a separated best in bold.

    ``columns`` lists (header suffix, numeric field ranked for bold or None, formatter); every
    distinct ``col_key(r)`` gives one column per entry, left out when it has no value in any row.
    Higher is better. A value is bold only when its 95% interval (:data:`INTERVALS` of the ranked
    field) lies wholly above every other row's in the column: never where intervals overlap, where a
    value has no interval (n=1), or for a field without intervals. A table of more than
    ``WRAP_AFTER`` value columns wraps its cells, so the last column (e.g. the final continual step)
    stays on screen instead of behind a horizontal scroll.
    """
    long = long.assign(_col=[col_key(r) for _, r in long.iterrows()])
    row_keys = sorted(dict.fromkeys(long[row]), key=lambda name: (is_baseline(name), str(name)))
    header, body = [row_header], [[(str(rk), False)] for rk in row_keys]
    for ck in dict.fromkeys(long["_col"]):
        part = long[long["_col"] == ck].set_index(row)
        for suffix, rank_field, fmt in columns:
            best = separated_best(part, rank_field)
            column = [(fmt(part.loc[rk]), rk == best) if rk in part.index else (DASH, False) for rk in row_keys]
            if all(text == DASH for text, _ in column):
                continue
            header.append(f"{ck}{suffix}".strip())
            for cells, cell in zip(body, column):
                cells.append(cell)
    return Table(caption, header, [[t for t, _ in cells] for cells in body], [[b for _, b in cells] for cells in body],
                 wrap=len(header) - 1 > WRAP_AFTER)


INTERVALS = {"mean": ("ci_low", "ci_high"), "gain_mean": ("gain_low", "gain_high")}  # field -> its 95% interval
BOLD_RULE = ("Bold marks a value whose 95% interval lies wholly above every other row's in its column; where "
             "intervals overlap, or a value rests on one seed, nothing is bold.")


def separated_best(part: pd.DataFrame, field: str | None):
    """The row whose ``field`` interval lies above every other row's, or None."""
    if field not in INTERVALS or len(part) < 2:
        return None
    low, high = (pd.to_numeric(part[c], errors="coerce") for c in INTERVALS[field])
    top = pd.to_numeric(part[field], errors="coerce").idxmax() if part[field].notna().any() else None
    if top is None or math.isnan(low[top]) or high.drop(top).isna().any():
        return None
    return top if low[top] > high.drop(top).max() else None


def is_baseline(name) -> bool:
    """Random-subset baselines (``random``, ``random-packed``, ``random-decoded``) go last in tables."""
    return str(name).startswith(C.RANDOM) or str(name).endswith("-" + C.RANDOM)


def long_table(caption: str, frame: pd.DataFrame, header: list[str]) -> Table:
    rows = [[str(v) for v in r] for r in frame.itertuples(index=False)]
    return Table(caption, header, rows, [[False] * len(header) for _ in rows], wrap=True)


def protocol_caption(fp: str, records: pd.DataFrame) -> str:
    names = C.with_defaults(records).query("protocol_fingerprint == @fp")["protocol_name"].unique()
    return f"protocol {', '.join(map(str, names)) or C.UNKNOWN} (fingerprint {fp})"


def fingerprint_note(fingerprints, records: pd.DataFrame) -> list[str]:
    """Why a section is split: which protocol fields differ between its fingerprints."""
    fingerprints = list(dict.fromkeys(fingerprints))
    if len(fingerprints) < 2:
        return []
    table = C.protocol_table(records)
    diffs = C.protocol_differences(table[table["protocol_fingerprint"].isin(fingerprints)])
    detail = "; ".join(f"{protocol_caption(fp, records)}: {diffs.get(fp) or 'protocol not recorded'}"
                       for fp in fingerprints)
    return [f"These results come from {len(fingerprints)} evaluation protocols with different fingerprints. "
            f"Numbers trained and tested under different protocols are not comparable, so each protocol "
            f"gets its own table and figure and no column mixes them. Differences: {detail}."]


def extra_values(df: pd.DataFrame, key: str) -> list[str]:
    """Distinct values of ``extra[key]`` over the records that have it."""
    values = [e.get(key) for e in df.get("extra", []) if isinstance(e, dict) and e.get(key) is not None]
    return sorted(set(map(str, values)))


def few_seeds_note(summary: pd.DataFrame) -> list[str]:
    """A reminder when intervals rest on two seeds (t quantile 12.7: wide by construction)."""
    if "n" in summary and (summary["n"] == 2).any():
        return ["Some results rest on 2 seeds, where the 95% t-interval is mean " + PM + " 12.7 x std / sqrt(2): "
                "wide by construction (it can leave 0-100%; figures clip it). Run more seeds for tight intervals."]
    return []


def coverage_note(summary: pd.DataFrame) -> list[str]:
    """What each accuracy interval covers: the set's draw and the model seed (one set per seed), or
    the model seed only (one set trained with every seed)."""
    if "sets" not in summary:
        return []
    multi = summary[(summary["sets"] > 1) & (summary["n"] > 1)]
    single = summary[(summary["sets"] <= 1) & (summary["n"] > 1)]
    names = lambda part: ", ".join(sorted(set(map(str, part["distiller"]))))  # noqa: E731
    parts = []
    if not multi.empty:
        parts.append(f"{names(multi)}: one set per seed, so the interval covers the set's draw and the model seed")
    if not single.empty:
        parts.append(f"{names(single)}: one set trained with every seed, so the interval covers model seeds only "
                     f"(narrower than the spread between draws)")
    return [f"What the intervals cover. {'; '.join(parts)}."] if parts else []


def comparison_section(anchor: str, title: str, intro: str, summary: pd.DataFrame, records: pd.DataFrame) -> Section:
    """A section comparing the rows of ``summary``, with the notes every comparison needs: why it is
    split by protocol (:func:`fingerprint_note`), when intervals rest on two seeds, what bold means."""
    return Section(anchor, title, intro, notes=fingerprint_note(summary["protocol_fingerprint"], records)
                   + coverage_note(summary) + few_seeds_note(summary) + [BOLD_RULE])


def slug(*parts) -> str:
    text = "-".join(str(p) for p in parts)
    return "".join(ch if ch.isalnum() else "-" for ch in text).strip("-").lower()


ACC_COLUMNS = [(": accuracy (%)", "mean", fmt_interval), (": gain over random (pp)", "gain_mean", fmt_gain)]
NO_RANDOM = ("no same-size random subset was evaluated under the same protocol, architecture and seeds, so no "
             "gain over random is shown (evaluate the `random` distiller at the same IPC to add it).")


def accuracy_columns(summary: pd.DataFrame, notes: list[str], where: str) -> list:
    """Accuracy and gain columns; the gain is left out (with a note) when no cell has a random partner."""
    if summary["gain_n"].fillna(0).astype(int).sum() > 0:
        return ACC_COLUMNS
    if (summary["distiller"] != C.RANDOM).any():
        notes.append(f"{where}: {NO_RANDOM}")
    return ACC_COLUMNS[:1]


def text_table(table: Table) -> str:
    """A table as aligned console text (a bold cell, see :data:`BOLD_RULE`, ends in ``*``), under its caption."""
    rows = [table.header] + [[f"{c} *" if b else c for c, b in zip(cells, bold)]
                             for cells, bold in zip(table.rows, table.bold)]
    widths = [max(len(row[i]) for row in rows) for i in range(len(table.header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(row, widths))).rstrip()
             for row in rows]
    return "\n".join([f"{table.caption}:", *lines])


def text_section(section: Section | None) -> str:
    """A section's tables and notes as console text (figures are in the written report)."""
    if section is None:
        return "(no results)"
    parts = [text_table(b) for b in section.blocks if isinstance(b, Table)]
    return "\n\n".join(parts + [f"note: {n}" for n in section.notes])
