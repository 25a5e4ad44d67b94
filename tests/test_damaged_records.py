"""Records are read defensively: every damaged line is skipped with one warning naming its file and
line, every good record is read and reported, and no reader rewrites a records file. Damaged
lines are built here, by hand for the kinds a disk or an editor makes and mechanically from
:data:`harness.records.RECORD_FIELDS` (each required field dropped, each field given every other
JSON kind)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from report_fixtures import SMOKE, add_accuracy, proto

from commands._common import run_command
from commands.report import main as report_main
from harness.records import RECORD_FIELDS, RecordStore, load_records, read_records, records_path

ROOT = Path(__file__).resolve().parent.parent

DAMAGE = {  # what a line can be instead of a record, as bytes on disk
    "binary bytes": b"\x00\x01\x02\xfe\xff\x80garbage",
    "invalid UTF-8": b'{"key": "\xff\xfe", "task": "transfer", "metrics": {}}',
    "NUL bytes": b"\x00" * 40,
    "a JSON list": b'[1, 2, 3]',
    "a JSON string": b'"just text"',
    "a number": b"42",
    "an empty object": b"{}",
    "missing metrics": b'{"key": "abc", "task": "transfer"}',
    "metrics a list": b'{"key": "abc", "task": "transfer", "metrics": [50.0]}',
    "torn by a kill": b'{"key": "half a li',
    "deeply nested": b"[" * 100000 + b"]" * 100000,
}
VALUES = [None, True, 0, -1, 1.5, float("nan"), "", "text", [], [1], {}, {"a": 1}]  # one of every JSON kind


def good_records(n: int = 3) -> None:
    add_accuracy("transfer", "dm", {s: 60.0 + s for s in range(n)})
    add_accuracy("transfer", "random", {s: 50.0 + s for s in range(n)})


def append_lines(path: Path, lines: list[bytes]) -> None:
    with open(path, "ab") as f:
        for line in lines:
            f.write(line + b"\n")


def test_each_damaged_line_is_skipped_with_one_warning_and_the_file_is_left_alone(capsys):
    good_records()
    path = records_path("transfer")
    append_lines(path, list(DAMAGE.values()))
    good_records(4)  # seed 3 written after the damage: RecordStore appends past it
    before = path.read_bytes()
    for _ in range(3):  # read three times: still one warning per line
        store = RecordStore(path)
        records = store.load()
    assert len(records) == 6 + 8 and store.has({**_cell("dm"), "seed": 3})
    err = capsys.readouterr().err
    for n, what in enumerate(DAMAGE, 7):
        assert err.count(f"{path} line {n}:") == 1, what
    assert err.count("warning: skipped") == len(DAMAGE)
    assert path.read_bytes() == before  # no reader rewrites the file


def _cell(distiller: str) -> dict:
    return {"task": "transfer", "distiller": distiller, "dataset": "mnist-tiny", "imbalance": 1.0, "ipc": 2,
            "distill_seed": 0, "synset_sha256": "", **proto(SMOKE), "arch": "convnet"}


def mutations(record: dict):
    """(what, line) for each required field dropped and each field given each value of another kind."""
    for name, spec in RECORD_FIELDS.items():
        if spec.required:
            yield f"without {name}", {k: v for k, v in record.items() if k != name}, False
        for value in VALUES:
            yield f"{name}={value!r}", {**record, name: value}, spec.kind.test(value)
        for inner, inner_spec in spec.kind.fields.items():
            for value in VALUES:
                changed = {**record, name: {**record.get(name, {}), inner: value}}
                yield f"{name}.{inner}={value!r}", changed, inner_spec.kind.test(value)


def test_generated_defects_are_skipped_and_the_report_survives_every_one(output_dir, capsys):
    good_records()
    path = records_path("transfer")
    template = read_records(path)[0][0]
    cases = list(mutations(template))
    append_lines(path, [json.dumps(line).encode() for _, line, _ in cases])
    records, skipped = read_records(path)
    skipped_lines = {s.line for s in skipped}
    for n, (what, _, readable) in enumerate(cases, 7):
        assert (n not in skipped_lines) == readable, what
    assert len(records) == 6 + sum(readable for *_, readable in cases)
    assert len(skipped) > len(RECORD_FIELDS)  # every field has kinds it refuses
    run_command(report_main, [])  # every readable variant goes into the report without a traceback
    assert (output_dir / "reports" / "report.md").exists()


def test_report_process_reports_every_good_record_and_names_each_skipped_line(output_dir):
    good_records()
    path = records_path("transfer")
    append_lines(path, [DAMAGE["binary bytes"], DAMAGE["a JSON list"], DAMAGE["an empty object"]])
    good_records(5)
    done = subprocess.run([sys.executable, "-m", "harness.report"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "DD_OUTPUT": str(output_dir), "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr
    for line in (7, 8, 9):
        assert f"{path} line {line}:" in done.stderr
    table = (output_dir / "reports" / "report.md").read_text()
    assert "from 16 records" in table and "n=5" in table  # 6 + 10 good records, seeds 0..4 of each set


def test_a_records_folder_of_only_garbage_says_so(output_dir, capsys):
    path = records_path("transfer")
    path.parent.mkdir(parents=True)
    path.write_bytes(DAMAGE["binary bytes"] + b"\n" + DAMAGE["a JSON list"] + b"\n")
    with pytest.raises(SystemExit) as exc:
        run_command(report_main, [])
    err = capsys.readouterr().err.strip().splitlines()
    assert exc.value.code == 2
    assert err[-1].startswith("error: no readable records") and "damaged" in err[-1] and str(path) in err[-1]
    assert "no records under" not in err[-1]


def test_load_records_keeps_good_records_beside_damage(output_dir):
    good_records()
    append_lines(records_path("transfer"), [DAMAGE["invalid UTF-8"]])
    assert sorted(load_records()["metric.accuracy"]) == [50.0, 51.0, 52.0, 60.0, 61.0, 62.0]
