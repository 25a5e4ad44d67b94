"""Dataset-distillation benchmark harness: the shared core (data, models, protocol, artifacts, records)."""

__version__ = "0.1.0"
