"""Append-only JSONL result records, one line per result cell, and resume by cell key.

A cell is (task, distiller, dataset, IPC, architecture, seed, protocol fingerprint, synthetic-set
checksum, task-specific fields). Each record is self-describing: the cell, its metrics, the full
protocol and its fingerprint, versions, git commit, wall time and peak memory. Every append is
flushed and fsync'ed under a file lock, so a killed run loses nothing already recorded and
concurrent writers (sweeps) never interleave lines.

Reading is defensive and never writes: a line that is not a record (a line torn by a kill, binary
bytes, invalid UTF-8, a JSON list, an empty object, a record missing a field or with a field of the
wrong kind, :data:`RECORD_FIELDS`) is skipped with one warning on stderr naming the file and line,
and every other record is read. Readers take a shared lock, so they never see a line mid-append.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable

from harness.paths import output_root
from harness.provenance import environment, now_iso
from harness.schema import FACTOR, NAME, NUMBER, OBJECT, TEXT, WHOLE, Field, defect, nested, optional

SCHEMA_VERSION = 1

# What every record carries (RecordStore.append writes the first three) and the kinds of the cell
# fields the reports and tasks read when a record has them.
RECORD_FIELDS = {
    "key": Field(NAME), "task": Field(NAME),
    "metrics": Field(nested({"accuracy": Field(optional(NUMBER), required=False)})),
    "timing": Field(nested({"wall_seconds": Field(NUMBER, required=False)}), required=False),
    "extra": Field(OBJECT, required=False), "protocol": Field(optional(OBJECT), required=False),
    "distiller": Field(optional(TEXT), required=False), "dataset": Field(TEXT, required=False),
    "arch": Field(TEXT, required=False), "ipc": Field(WHOLE, required=False), "seed": Field(WHOLE, required=False),
    "imbalance": Field(FACTOR, required=False), "protocol_name": Field(TEXT, required=False),
    "protocol_fingerprint": Field(TEXT, required=False),
}


@dataclass(frozen=True)
class SkippedLine:
    """A line of a records file that is not a record, and why."""

    path: Path
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.path} line {self.line}: {self.reason}"


_warned: set[SkippedLine] = set()


def warn_skipped(skipped: Iterable[SkippedLine]) -> None:
    """One warning on stderr per damaged line, once per process however often the file is read."""
    for s in skipped:
        if s not in _warned:
            _warned.add(s)
            print(f"warning: skipped {s}; the file's other records are read, the file is left as it is",
                  file=sys.stderr)


def line_defect(raw: bytes) -> tuple[dict | None, str]:
    """(record, "") for a record's line, else (None, why it is not one)."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, f"not UTF-8 text (byte {exc.start + 1})"
    try:
        record = json.loads(text)
    except json.JSONDecodeError as exc:
        return None, f"not JSON ({exc.msg} at column {exc.colno}; a line cut off by a kill, or damaged)"
    except RecursionError:
        return None, "not a record (JSON nested too deeply)"
    problem = defect(record, RECORD_FIELDS, "the line")
    return (None, f"not a record ({problem})") if problem else (record, "")


def read_records(path: Path) -> tuple[list[dict], list[SkippedLine]]:
    """The records of one JSONL file and the lines skipped (blank lines are neither)."""
    path = Path(path)
    if not path.exists():
        return [], []
    with open(path, "rb") as f:
        fcntl.flock(f, fcntl.LOCK_SH)  # an append holds LOCK_EX: never read half a line being written
        lines = f.read().split(b"\n")
        fcntl.flock(f, fcntl.LOCK_UN)
    records, skipped = [], []
    for number, raw in enumerate(lines, 1):
        if not raw.strip():
            continue
        record, why = line_defect(raw)
        if record is None:
            skipped.append(SkippedLine(path, number, why))
        else:
            records.append(record)
    return records, skipped


def scan_records(paths: Iterable[Path]) -> tuple[list[dict], list[SkippedLine]]:
    """Every record of ``paths`` and every skipped line (each warned about once)."""
    records, skipped = [], []
    for path in paths:
        good, bad = read_records(path)
        records += good
        skipped += bad
    warn_skipped(skipped)
    return records, skipped


def cell_key(cell: dict) -> str:
    """A stable id for a result cell (a dict of JSON-able identifying fields)."""
    return hashlib.sha256(json.dumps(cell, sort_keys=True, default=str).encode()).hexdigest()[:16]


def records_path(task: str) -> Path:
    return output_root() / "records" / f"{task}.jsonl"


class RecordStore:
    """One task's JSONL file: ``has(cell)`` to skip finished cells, ``append(cell, ...)`` to add one."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._keys = {r["key"] for r in self.load()}

    def load(self) -> list[dict]:
        """Every record of the file; damaged lines are skipped with a warning (:func:`read_records`)."""
        return scan_records([self.path])[0]

    def has(self, cell: dict) -> bool:
        return cell_key(cell) in self._keys

    def append(self, cell: dict, metrics: dict, protocol: dict | None = None, timing: dict | None = None,
               extra: dict | None = None) -> dict:
        record = {
            "schema": SCHEMA_VERSION,
            "key": cell_key(cell),
            **cell,
            "metrics": metrics,
            "protocol": protocol,
            "timing": timing or {},
            "extra": extra or {},
            "recorded": now_iso(),
            **environment(),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps(record, default=str) + "\n"
        with open(self.path, "a+b") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            if f.seek(0, os.SEEK_END) > 0:
                f.seek(-1, os.SEEK_END)
                if f.read(1) != b"\n":  # a line torn by a kill: end it so this record stays whole
                    line = "\n" + line
            f.write(line.encode())
            f.flush()
            os.fsync(f.fileno())
            fcntl.flock(f, fcntl.LOCK_UN)
        self._keys.add(record["key"])
        return record


def records_frame(records: Iterable[dict]):
    """Records as a pandas DataFrame: metrics flattened to ``metric.<name>`` columns, timing to
    ``timing.<name>``, every other field a column."""
    import pandas as pd

    rows = []
    for rec in records:
        row = {k: v for k, v in rec.items() if k not in ("metrics", "timing")}
        row.update({f"metric.{k}": v for k, v in rec.get("metrics", {}).items()})
        row.update({f"timing.{k}": v for k, v in rec.get("timing", {}).items()})
        rows.append(row)
    return pd.DataFrame(rows)


def load_records(paths: Iterable[Path] | None = None):
    """Every record (default: all ``<output>/records/*.jsonl``) as a :func:`records_frame`."""
    if paths is None:
        paths = sorted((output_root() / "records").glob("*.jsonl"))
    return records_frame(scan_records(paths)[0])
