"""Independent units of a task (e.g. one memory and seed of continual learning) in worker processes.

On a CPU one small model does not keep the cores busy: two one-thread processes side by side, each
training a ConvNet on 100 Fashion-MNIST images (60 epochs, then the test on 10,000), finished their
two units in 40 s, one two-thread process one unit in 27.6 s (1.38x the throughput; 2 cores,
2026-12-04). Vmapping seeds
into one model gains nothing there (:mod:`harness.multiseed`), so on the CPU a task runs its units
in ``workers`` processes with ``cores // workers`` threads each; on CUDA one process does all.

A unit writes its own records (:class:`harness.records.RecordStore` locks its file for each
append), so the parent only waits; once a unit fails no other starts, those running finish (their
records kept) and the error is raised in the parent (a :class:`~harness.errors.HarnessError` stays
one line). Workers are spawned, so the
unit's function must be importable (module level) and its arguments picklable. A worker's floats
may differ from a one-process run's in the last bits (another thread count), as across machines.
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait
from multiprocessing import get_context
from typing import Callable, Sequence

import torch


def cpu_cores() -> int:
    """Cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def auto_workers(device: str | torch.device, units: int) -> int:
    """One per core on the CPU (at most one per unit); one on an accelerator."""
    if torch.device(device).type != "cpu":
        return 1
    return max(1, min(cpu_cores(), units))


def _start_worker(threads: int) -> None:
    from harness.speed import tune_malloc

    torch.set_num_threads(threads)
    tune_malloc()


def run_units(work: Callable, units: Sequence[tuple], workers: int, done: Callable[[], None] = lambda: None,
              every: float = 5.0) -> None:
    """``work(*unit)`` for every unit, ``workers`` at a time; ``done()`` after each unit finishes and,
    while workers run, every ``every`` seconds (e.g. to count the records they have written)."""
    if workers <= 1 or len(units) <= 1:
        for unit in units:
            work(*unit)
            done()
        return
    workers = min(workers, len(units))
    threads = max(1, cpu_cores() // workers)
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"), initializer=_start_worker,
                               initargs=(threads,))
    try:
        pending = {pool.submit(work, *unit) for unit in units}
        while pending:
            finished, pending = wait(pending, timeout=every, return_when=FIRST_EXCEPTION)
            for future in finished:
                future.result()  # a unit's error stops the run here
            done()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
