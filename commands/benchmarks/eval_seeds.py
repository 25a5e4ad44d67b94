"""``eval-seeds``: training 5 ConvNet seeds one at a time vs batched (:mod:`harness.multiseed`).

A small synthetic set (random MNIST-shaped images, IPC 1 and 10 over 10 classes) is trained for
a few epochs of the evaluation recipe by both paths; the two are timed alternately so machine
load affects both alike. Testing on the real split is the same per-seed code in both paths and
is left out.
"""

from __future__ import annotations

import time

import torch

from commands.benchmarks import register_benchmark
from harness.data import DatasetInfo
from harness.multiseed import train_seeds
from harness.protocol import EvalProtocol
from harness.train import init_model, train_model

ARCH, SEEDS, EPOCHS = "convnet", [0, 1, 2, 3, 4], 10
INFO = DatasetInfo("synthetic-28x28", 10, 1, 28, (0.0,), (1.0,), tuple(map(str, range(10))))


def _one_at_a_time(images, labels, protocol, device):
    for s in SEEDS:
        train_model(init_model(ARCH, INFO, s, device), images, labels, protocol, s)


def _batched(images, labels, protocol, device):
    train_seeds(ARCH, images, labels, INFO, protocol, SEEDS, device)


@register_benchmark("eval-seeds")
def eval_seeds(args) -> list[dict]:
    rows = []
    protocol = EvalProtocol(name="bench", epochs=EPOCHS)
    for ipc in (1, 10):
        gen = torch.Generator().manual_seed(ipc)
        images = torch.randn(10 * ipc, *INFO.image_shape, generator=gen).to(args.device)
        labels = torch.arange(10).repeat_interleave(ipc).to(args.device)
        paths = {"one_at_a_time": _one_at_a_time, "batched": _batched}
        seconds = {name: [] for name in paths}
        for repeat in range(args.repeats + 1):  # the first round warms up and is not counted
            for name, fn in paths.items():
                start = time.perf_counter()
                fn(images, labels, protocol, args.device)
                if args.device.type == "cuda":
                    torch.cuda.synchronize()
                if repeat:
                    seconds[name].append(time.perf_counter() - start)
        best = {name: min(t) for name, t in seconds.items()}
        rows.append({"arch": ARCH, "seeds": len(SEEDS), "ipc": ipc, "images": len(images), "epochs": EPOCHS,
                     "one_at_a_time_s": round(best["one_at_a_time"], 3), "batched_s": round(best["batched"], 3),
                     "speedup": round(best["one_at_a_time"] / best["batched"], 2)})
    return rows
