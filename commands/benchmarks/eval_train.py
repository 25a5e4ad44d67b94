"""``eval-train``: evaluation training speed, in model-epochs per second, eager against compiled.

One ConvNet trained by :func:`harness.train.train_model` under the ``paper`` protocol as run on
the dataset (SGD, batch 256, per-image DSA, no flip on digit-shaped data) on random normalised
images: MNIST-shaped (1x28x28) and CIFAR-shaped (3x32x32), 10 classes, IPC 10 and 50 (100 and
500 images: 1 and 2 steps per epoch). Each path trains ``DD_BENCH_EVAL_EPOCHS`` epochs (default
20) once untimed (the compiled path compiles there; its time is reported as ``first_run_s``), then
``--repeats`` times; medians are reported. Testing is left out.
"""

from __future__ import annotations

import os
import statistics
import time

import torch

from commands.benchmarks import register_benchmark
from harness.data import DatasetInfo
from harness.paths import environment_variable
from harness.protocol import PROTOCOLS
from harness.train import init_model, train_model

SHAPES = {"mnist": DatasetInfo("synthetic-mnist", 10, 1, 28, (0.0,), (1.0,), tuple(map(str, range(10))),
                               mirror_invariant=False),
          "cifar": DatasetInfo("synthetic-cifar", 10, 3, 32, (0.0,) * 3, (1.0,) * 3, tuple(map(str, range(10))))}


def _timings(info, images, labels, protocol, repeats, device) -> list[float]:
    seconds = []
    for repeat in range(repeats + 1):
        model = init_model("convnet", info, repeat, device)
        start = time.perf_counter()
        train_model(model, images, labels, protocol, repeat)
        if device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - start)
    return seconds


@register_benchmark("eval-train")
def eval_train(args) -> list[dict]:
    epochs = int(os.environ.get("DD_BENCH_EVAL_EPOCHS", "20"))
    rows = []
    for shape, info in SHAPES.items():
        protocol = PROTOCOLS["paper"].with_overrides(epochs=epochs).for_dataset(info)
        for ipc in (10, 50):
            gen = torch.Generator().manual_seed(ipc)
            images = torch.randn(10 * ipc, *info.image_shape, generator=gen).to(args.device)
            labels = torch.arange(10).repeat_interleave(ipc).to(args.device)
            row = {"arch": "convnet", "shape": shape, "ipc": ipc, "images": len(images), "epochs": epochs}
            for mode in ("off", "on"):
                with environment_variable("DD_COMPILE", mode):
                    first, *timed = _timings(info, images, labels, protocol, args.repeats, args.device)
                name = "eager" if mode == "off" else "compiled"
                row[f"{name}_model_epochs_per_s"] = round(epochs / statistics.median(timed), 2)
                row[f"{name}_first_run_s"] = round(first, 2)
            row["speedup"] = round(row["compiled_model_epochs_per_s"] / row["eager_model_epochs_per_s"], 2)
            rows.append(row)
    return rows
