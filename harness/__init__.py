"""Dataset-distillation benchmark harness: the shared core (data, models, protocol, artifacts, records)."""

from harness.speed import tune_malloc

__version__ = "0.1.0"
MALLOC_TUNED = tune_malloc()
