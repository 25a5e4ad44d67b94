"""Dataset-distillation benchmark harness: the shared core (data, models, augmentation, protocol,
training, metrics, artifacts, records). It imports nothing above it; the commands are in
:mod:`commands`. ``harness.evaluate_set(images, labels, ...)`` judges a set made by any code
(:func:`harness.evaluation.evaluate_set`)."""

__version__ = "0.1.0"


def __getattr__(name: str):
    if name == "evaluate_set":  # imported on first use: ``import harness`` stays light
        from harness.evaluation import evaluate_set

        return evaluate_set
    raise AttributeError(f"module 'harness' has no attribute '{name}'")
