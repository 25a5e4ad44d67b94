"""Dataset-distillation benchmark harness: the shared core (data, models, augmentation, protocol,
training, metrics, artifacts, records). It imports nothing above it; the commands are in
:mod:`commands`."""

__version__ = "0.1.0"
