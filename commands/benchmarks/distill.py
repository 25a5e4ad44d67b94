"""``distill``: seconds per iteration and peak memory of iterative distillers on random tensors.

CIFAR-10-shaped (3x32x32, 10 classes) and CIFAR-100-shaped (100 classes) uniform random uint8
images, on the resolved device; each distiller at its default settings except the real batch
and the extractor (NCFM's hybrid extractor needs pretrained models of a registered dataset, so
it is timed with ``extractor=random``; the hybrid blend adds one weight interpolation per
iteration). One untimed warm-up iteration per case, then ``steps`` timed ones.

Memory: on CUDA the allocator's peak during the timed iterations; on the CPU the process's peak
resident set during the case, sampled every 5 ms (cases run smallest first; freed memory is kept
by the process, see ``harness/speed.py``, so a case's figure is at least the one before it).

Sizes are environment settings, so the default ``python -m harness.bench --only distill`` stays
around five minutes on a 2-core CPU:
  DD_BENCH_DISTILLERS  (default ``ncfm,dm``)
  DD_BENCH_CASES       (default ``10:1,10:10,10:50,100:1,100:10``: classes:ipc; add ``100:50``)
  DD_BENCH_REAL_BATCH  (default 32 real images per class)
  DD_BENCH_STEPS       (default 1 timed iteration per case)
"""

from __future__ import annotations

import os
import threading
import time

import torch

from commands.benchmarks import register_benchmark
from distillers import DISTILLERS, IterativeDistiller, create_distiller
from distillers._base import RunContext
from harness.data import DatasetInfo, ImageData
from harness.errors import HarnessError

DEFAULTS = {"DD_BENCH_DISTILLERS": "ncfm,dm", "DD_BENCH_CASES": "10:1,10:10,10:50,100:1,100:10",
            "DD_BENCH_REAL_BATCH": "32", "DD_BENCH_STEPS": "1"}
CIFAR_MEAN, CIFAR_STD = (0.4914, 0.4822, 0.4465), (0.247, 0.243, 0.261)


def setting(name: str) -> str:
    return os.environ.get(name, DEFAULTS[name])


def random_data(classes: int, per_class: int, seed: int = 0) -> ImageData:
    info = DatasetInfo(f"random-cifar{classes}", classes, 3, 32, CIFAR_MEAN, CIFAR_STD,
                       tuple(f"c{c}" for c in range(classes)))
    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (classes * per_class, 3, 32, 32), generator=gen, dtype=torch.uint8)
    return ImageData(images, torch.arange(classes).repeat_interleave(per_class), info, "train")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


class PeakMemory:
    """Peak memory (MB) of the block: CUDA allocator peak, or sampled resident set on the CPU."""

    def __init__(self, device: torch.device):
        self.device, self.peak, self._stop = device, 0.0, threading.Event()

    def _sample(self):
        while not self._stop.wait(0.005):
            self.peak = max(self.peak, _rss_mb())

    def __enter__(self):
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        else:
            self.peak = _rss_mb()
            self._thread = threading.Thread(target=self._sample, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
            self.peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, _rss_mb())


def time_distiller(name: str, data: ImageData, ipc: int, real_batch: int, steps: int, device) -> dict:
    """Set one distiller up on ``data`` and time ``steps`` iterations after a warm-up."""
    spec = DISTILLERS.get(name)
    if not issubclass(spec.cls, IterativeDistiller):
        raise HarnessError(f"'{name}' is not an iterative distiller: nothing to time per iteration")
    overrides = {"real_batch": real_batch}
    if "extractor" in spec.cls.Config.__dataclass_fields__:
        overrides["extractor"] = "random"
    distiller = create_distiller(name, overrides)
    distiller.classes = list(range(data.info.num_classes))
    with PeakMemory(device) as memory:
        distiller.setup(data, ipc, RunContext(device=device, progress=False, log=lambda s: None), [])
        distiller.step(0)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        for it in range(1, steps + 1):
            distiller.step(it)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = (time.perf_counter() - start) / steps
    return {"distiller": name, "shape": f"cifar{data.info.num_classes}", "ipc": ipc,
            "images_per_class": ipc * getattr(distiller, "factor", 1) ** 2, "real_batch": real_batch,
            "s_per_iter": round(seconds, 3), "peak_mb": round(memory.peak, 1)}


@register_benchmark("distill")
def distill_bench(args) -> list[dict]:
    names = [n.strip() for n in setting("DD_BENCH_DISTILLERS").split(",") if n.strip()]
    for n in names:
        DISTILLERS.get(n)  # unknown names fail before any work
    try:
        cases = [tuple(int(v) for v in case.split(":")) for case in setting("DD_BENCH_CASES").split(",")]
        real_batch, steps = int(setting("DD_BENCH_REAL_BATCH")), int(setting("DD_BENCH_STEPS"))
    except ValueError:
        raise HarnessError("DD_BENCH_CASES is classes:ipc[,classes:ipc...] (e.g. 10:1,100:50); "
                           "DD_BENCH_REAL_BATCH and DD_BENCH_STEPS are integers") from None
    rows = []
    for classes, ipc in sorted(cases, key=lambda c: c[0] * c[1]):
        data = random_data(classes, max(real_batch, 4 * ipc))
        for name in names:
            rows.append(time_distiller(name, data, ipc, real_batch, steps, args.device))
    return rows
