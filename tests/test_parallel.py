"""Units of a task in worker processes (harness.parallel): every unit runs, and a unit's error
reaches the caller as itself (a HarnessError stays the one-line kind)."""

from pathlib import Path

import pytest

from harness.data import load_dataset
from harness.errors import HarnessError
from harness.parallel import auto_workers, run_units


def test_every_unit_runs_in_the_workers(tmp_path):
    files = [tmp_path / f"unit{i}.txt" for i in range(3)]
    calls = []
    run_units(Path.write_text, [(f, f.name) for f in files], workers=2, done=lambda: calls.append(1))
    assert [f.read_text() for f in files] == [f.name for f in files] and calls


def test_a_units_error_is_raised_in_the_caller():
    with pytest.raises(HarnessError, match="unknown dataset 'no-such-set'"):
        run_units(load_dataset, [("no-such-set",), ("mnist-tiny",)], workers=2)


def test_one_process_on_an_accelerator_and_at_most_one_worker_per_unit():
    assert auto_workers("cuda", 8) == 1 and auto_workers("cpu", 1) == 1 and auto_workers("cpu", 0) == 1
