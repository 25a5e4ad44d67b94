"""What makes a number self-describing: versions, git commit, wall time, peak memory."""

from __future__ import annotations

import datetime as _dt
import functools
import os
import platform
import resource
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import torch

import harness


@functools.lru_cache(maxsize=1)
def git_commit() -> str:
    """The harness checkout's commit (with '+dirty' for uncommitted changes), or 'unknown'."""
    repo = Path(__file__).resolve().parent.parent
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=repo, capture_output=True, text=True, check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return sha + ("+dirty" if dirty else "")


def cpu_model() -> str:
    """The CPU's model name (it changes from day to day on shared machines, so every number keeps it)."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


@functools.lru_cache(maxsize=1)
def versions() -> dict[str, str]:
    return {
        "harness": harness.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda or "none",
        "platform": platform.platform(),
        "cpu": f"{cpu_model()}, {os.cpu_count()} cores, {torch.get_num_threads()} torch threads",
    }


def environment() -> dict:
    return {"versions": versions(), "git_commit": git_commit(), "argv": sys.argv}


def now_iso() -> str:
    return _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds")


def peak_memory_mb(device: torch.device | str | None = None) -> float:
    """Peak memory of this process: CUDA allocator peak on a GPU, max RSS on the CPU."""
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


@dataclass
class Measurement:
    """Filled in by :func:`measure`: wall seconds, CPU seconds on a CPU device (all threads of this
    process: a pause adds wall time, not CPU time) and peak memory of a block."""

    wall_seconds: float = 0.0
    cpu_seconds: float | None = None
    peak_memory_mb: float = 0.0
    started: str = field(default_factory=now_iso)

    def as_dict(self) -> dict:
        cpu = {} if self.cpu_seconds is None else {"cpu_seconds": round(self.cpu_seconds, 6)}
        return {
            "wall_seconds": round(self.wall_seconds, 6),  # a selection method can finish in under 1 ms
            **cpu,
            "peak_memory_mb": round(self.peak_memory_mb, 1),
            "started": self.started,
        }


@contextmanager
def measure(device: torch.device | str | None = None):
    """``with measure(dev) as m: ...`` then ``m.wall_seconds`` and ``m.peak_memory_mb``."""
    device = torch.device(device or "cpu")
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    m = Measurement()
    start, cpu_start = time.perf_counter(), time.process_time()
    try:
        yield m
    finally:
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        m.wall_seconds = time.perf_counter() - start
        if device.type == "cpu":
            m.cpu_seconds = time.process_time() - cpu_start
        m.peak_memory_mb = peak_memory_mb(device)
