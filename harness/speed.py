"""Process-level speed settings applied when the harness is imported.

glibc returns large freed buffers to the OS on every call, so each forward pass of a big batch
re-faults its activation memory; on a 2-core CPU a ConvNet forward over 2560 MNIST images takes
3.3 s with the default and 1.3 s with mmap disabled and trimming off (2026-11-22, torch
2.14.1). This is what MALLOC_MMAP_MAX_=0
MALLOC_TRIM_THRESHOLD_=<large> would do, set from inside the process.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import sys

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
