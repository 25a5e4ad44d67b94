"""Append-only JSONL result records, one line per result cell, and resume by cell key.

A cell is (task, distiller, dataset, IPC, architecture, seed, protocol fingerprint, synthetic-set
checksum, task-specific fields). Each record is self-describing: the cell, its metrics, the full
protocol and its fingerprint, versions, git commit, wall time and peak memory. Every append is
flushed and fsync'ed under a file lock, so a killed run loses nothing already recorded and
concurrent writers (sweeps) never interleave lines; a torn last line is ignored on load.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Iterable

from harness.paths import output_root
from harness.provenance import environment, now_iso

SCHEMA_VERSION = 1


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
        if not self.path.exists():
            return []
        records = []
        with open(self.path) as f:
            for line in f:
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue  # a line torn by a kill mid-write
        return records

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
    return records_frame(rec for path in paths for rec in RecordStore(path).load())
