"""Sweeps: grid expansion, and a real kill-and-rerun through submitit's local executor."""

import json
import os
import signal
import subprocess
import sys
import time

from commands.sweep import expand

SWEEP = [sys.executable, "-m", "harness.sweep", "--distillers", "random", "--datasets", "mnist-tiny",
         "--ipc", "1,2", "--seeds", "2", "--protocol", "smoke", "--device", "cpu"]


def test_expand_is_the_full_product():
    cells = expand({"distillers": ["dm", "random"], "ipc": [1, 10], "seeds": 2})
    assert len(cells) == 8 and len({c.label() for c in cells}) == 8
    assert {c.dataset for c in cells} == {"mnist"} and {c.arch for c in cells} == {"convnet"}


def _keys(path):
    if not path.exists():
        return []
    return [json.loads(line)["key"] for line in path.read_text().splitlines() if line.strip()]


def test_killed_sweep_reruns_only_the_missing_cells(output_dir):
    records = output_dir / "records" / "evaluate.jsonl"
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    first = subprocess.Popen(SWEEP, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             start_new_session=True)
    deadline = time.time() + 120
    while len(_keys(records)) < 1 and time.time() < deadline and first.poll() is None:
        time.sleep(0.2)
    os.killpg(first.pid, signal.SIGKILL)  # kill the sweep and its running job
    first.wait()
    done_before = _keys(records)
    assert 1 <= len(done_before) < 4

    rerun = subprocess.run(SWEEP, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert f"{len(done_before)} already recorded, {4 - len(done_before)} to run" in rerun.stdout
    keys = _keys(records)
    assert len(keys) == 4 and len(set(keys)) == 4
    assert keys[: len(done_before)] == done_before
