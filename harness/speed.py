"""Speed settings that never change the maths: malloc tuning (process level) and compiled training.

glibc returns large freed buffers to the OS on every call, so each forward pass of a big batch
re-faults its activation memory; on a 2-core CPU a ConvNet forward over 2560 MNIST images takes
3.3 s with the default and 1.3 s with mmap disabled and trimming off (2026-11-22, torch
2.14.1). This is what MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=<large> would do, set from inside the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys
import warnings

import torch

from harness.errors import HarnessError

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4


def tune_malloc() -> bool:
    """Keep freed memory in the process (glibc only); returns whether it applied."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_MMAP_MAX, 0)) and bool(libc.mallopt(M_TRIM_THRESHOLD, 2**31 - 1))
    except (OSError, AttributeError):
        return False


# Evaluation training through ``torch.compile`` (inductor), static shapes: a ConvNet trained 1.19-1.34x
# more model-epochs per second than eager on 2 quiet AMD EPYC (AVX2) cores, 2026-12-04 (``python -m
# harness.bench --only eval-train``); each batch shape costs a one-off compile (17 s for the first with
# a cold cache, about 10 s per further shape, cached on disk after). The dynamic graph inductor builds
# after a second batch size otherwise ran at 0.21 model-epochs/s against eager's 1.05 (one bench run,
# MNIST-shaped IPC 50, loaded machine), hence ``dynamic=False``.
# Compiling pays only for long trainings: ``auto`` compiles one of at least COMPILE_MIN_STEPS steps.
# It pays only for a graph trained again: ``train_model(..., one_off_graph=True)`` (a NAS cell, a new
# architecture per model) always trains eagerly. Measured 2026-12-04 on cells new to the compile
# cache: a NAS proxy on 1,000 Fashion-MNIST images (cpu search protocol, 600 steps; one thread beside
# a 2-thread job) 29.1 and 56.1 s compiled against 11.3 and 16.6 s eager; a ground-truth cell
# (cpu-decay-4x, 1,500 steps; one thread, quiet) 54.8 and 47.9 s compiled against 24.2 and 21.5 s.
COMPILE_MODES = ("auto", "on", "off")
COMPILE_MIN_STEPS = 250


def compile_mode() -> str:
    """``DD_COMPILE``: ``auto`` (default), ``on`` or ``off``."""
    mode = os.environ.get("DD_COMPILE", "auto").lower()
    if mode not in COMPILE_MODES:
        raise HarnessError(f"DD_COMPILE={mode!r} is not a compile mode: use one of {', '.join(COMPILE_MODES)}")
    return mode


def compiles(steps: int) -> bool:
    """Whether a training of ``steps`` optimiser steps runs its model compiled."""
    mode = compile_mode()
    return mode == "on" or (mode == "auto" and steps >= COMPILE_MIN_STEPS)


def training_forward(model: torch.nn.Module, steps: int):
    """``model``'s forward for a training of ``steps`` steps: compiled when :func:`compiles` says so
    (compiled code is shared by every model of the same class and shapes in the process, and cached
    on disk by inductor), eager otherwise or when compilation fails (one warning, then eager)."""
    if not compiles(steps):
        return model
    compiled = torch.compile(model, dynamic=False)
    state = {"forward": compiled}

    def forward(x: torch.Tensor) -> torch.Tensor:
        try:
            return state["forward"](x)
        except Exception as err:  # noqa: BLE001 - any compiler or backend failure: train eagerly
            if state["forward"] is model:
                raise
            warnings.warn(f"torch.compile failed ({type(err).__name__}: {err}); training eagerly", stacklevel=2)
            state["forward"] = model
            return model(x)

    return forward
