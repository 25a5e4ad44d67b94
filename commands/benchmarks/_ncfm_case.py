"""One ``ncfm-authors`` case in its own process (so its peak resident set is its own), printed as a
JSON line: ``python -m commands.benchmarks._ncfm_case --ipc 10 --real 256 --psi none``."""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import time

FREQS, FORMATION, PER_CLASS, CLASSES = 4096, 2, 1024, 10


def time_case(ipc: int, real: int, psi: str, iters: int, device: str = "cpu") -> dict:
    """Set NCFM up at the authors' settings and time ``iters`` iterations after a warm-up."""
    import torch

    from commands.benchmarks.distill import random_data
    from distillers import RunContext, create_distiller

    data = random_data(CLASSES, max(PER_CLASS, real))
    distiller = create_distiller("ncfm", {"real_batch": real, "extractor": "random", "num_freqs": FREQS, "psi": psi,
                                          "multi_formation": FORMATION, "calibration": 0.0})
    distiller.classes = list(range(CLASSES))
    dev = torch.device(device)
    distiller.setup(data, ipc, RunContext(device=dev, progress=False, log=lambda s: None), [])
    distiller.step(0)
    seconds = []
    for it in range(1, iters + 1):
        start = time.perf_counter()
        distiller.step(it)
        if dev.type == "cuda":
            torch.cuda.synchronize(dev)
        seconds.append(time.perf_counter() - start)
    return {"distiller": "ncfm", "case": f"ipc{ipc}-real{real}-psi-{psi}", "ipc": ipc, "real_batch": real, "psi": psi,
            "num_freqs": FREQS, "threads": torch.get_num_threads(), "s_per_iter": round(statistics.median(seconds), 3),
            "s_all": [round(s, 3) for s in seconds],
            "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="one ncfm-authors case, as a JSON line")
    parser.add_argument("--ipc", type=int, default=10)
    parser.add_argument("--real", type=int, default=256)
    parser.add_argument("--psi", default="none")
    parser.add_argument("--iters", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    a = parser.parse_args()
    from harness.speed import tune_malloc

    tune_malloc()
    print(json.dumps(time_case(a.ipc, a.real, a.psi, a.iters, a.device)))
