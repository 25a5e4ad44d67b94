"""``ncfm-authors``: the project's NCFM at the NCFM authors' settings, one case per process.

The cases of the side-by-side table (``shared/perf/README.md``): CIFAR-10-shaped random uint8
data (1,024 per class), 4,096 frequencies, multi-formation 2, calibration term off (compare with
the authors' match time), random extractor network per iteration, psi ``none`` (their default,
SampleNet off) or ``mlp`` (their SampleNet). Each case runs in a fresh process, so its peak
resident set (``ru_maxrss``) is its own; the figure is the median of the timed iterations after
one warm-up iteration.

  DD_BENCH_NCFM_CASES  ipc:real_per_class:psi,...  (default: the five cases of the table)
  DD_BENCH_NCFM_ITERS  timed iterations per case (default 3)

Run one case directly: ``python -m commands.benchmarks._ncfm_case --ipc 10 --real 256 --psi none``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

from commands.benchmarks import register_benchmark
from harness.errors import HarnessError

CASES = "10:256:none,10:64:none,50:64:none,50:256:none,10:256:mlp"


@register_benchmark("ncfm-authors")
def ncfm_authors_bench(args) -> list[dict]:
    try:
        cases = [(int(i), int(r), p) for i, r, p in (c.split(":") for c in os.environ.get(
            "DD_BENCH_NCFM_CASES", CASES).split(","))]
        iters = int(os.environ.get("DD_BENCH_NCFM_ITERS", "3"))
    except ValueError:
        raise HarnessError("DD_BENCH_NCFM_CASES is ipc:real:psi[,...] (e.g. 10:256:none); DD_BENCH_NCFM_ITERS an "
                           "integer") from None
    rows = []
    for ipc, real, psi in cases:
        done = subprocess.run([sys.executable, "-m", "commands.benchmarks._ncfm_case", "--ipc", str(ipc),
                               "--real", str(real), "--psi", psi, "--iters", str(iters), "--device", str(args.device)],
                              capture_output=True, text=True)
        if done.returncode:
            raise HarnessError(f"ncfm-authors case {ipc}:{real}:{psi} failed: {done.stderr.strip().splitlines()[-1]}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    return rows
