"""The distiller contract, run for every registered distiller on a tiny real subset, and the
iterative loop's resume and NaN guard."""

import json

import pytest
import torch

from distillers import DISTILLERS, create_distiller
from distillers._base import RunContext
from distillers._runner import distil
from harness.data import load_dataset
from harness.errors import HarnessError
from harness.synset import load_synset

IPC = 2


@pytest.mark.parametrize("name", DISTILLERS.names())
def test_contract(name, tiny):
    """Every distiller writes a verified artifact of IPC images per class in the data's space
    (on ``mnist-tiny``, or the distiller's ``smoke_dataset`` when it needs e.g. attributes)."""
    spec = DISTILLERS.get(name)
    dataset = getattr(spec.cls, "smoke_dataset", "mnist-tiny")
    info = load_dataset(dataset, "train").info
    path = distil(name, dataset, IPC, seed=0, overrides=spec.cls.smoke_settings, progress=False,
                  log=lambda s: None)
    synset = load_synset(path, expect_dataset=dataset)
    manifest = json.loads(path.with_suffix(".json").read_text())
    per_class = manifest.get("images_per_class", IPC)  # decoded images (multi-formation), else IPC
    assert per_class % IPC == 0
    assert synset.images.shape == (info.num_classes * per_class, *info.image_shape)
    assert torch.isfinite(synset.images).all()
    assert synset.labels.bincount(minlength=info.num_classes).tolist() == [per_class] * info.num_classes
    assert manifest["distiller"] == name and manifest["ipc"] == IPC
    assert manifest["timing"]["wall_seconds"] > 0 and manifest["timing"]["peak_memory_mb"] > 0
    # a rerun reuses the cached artifact instead of distilling again
    assert distil(name, dataset, IPC, seed=0, overrides=spec.cls.smoke_settings, progress=False,
                  log=lambda s: None) == path


def _dm(iterations=4):
    return create_distiller("dm", {"iterations": iterations, "real_batch": 8, "checkpoint_every": 2})


def test_interrupted_run_resumes_to_the_same_result(tiny, tmp_path, monkeypatch):
    full = _dm().distil(tiny, IPC, RunContext(progress=False)).images

    interrupted = _dm()
    original_step = interrupted.step

    def step_then_die(iteration):
        if iteration == 3:
            raise KeyboardInterrupt
        return original_step(iteration)

    monkeypatch.setattr(interrupted, "step", step_then_die)
    run = RunContext(checkpoint=tmp_path / "ck", resume=True, progress=False, log=lambda s: None)
    with pytest.raises(KeyboardInterrupt):
        interrupted.distil(tiny, IPC, run)
    logs = []
    resumed = _dm().distil(tiny, IPC, RunContext(checkpoint=tmp_path / "ck", resume=True, progress=False,
                                                 log=logs.append))
    assert any("from iteration 2" in line for line in logs)
    assert torch.allclose(resumed.images, full, atol=1e-5)


def test_nan_stops_with_the_last_good_images(tiny, tmp_path, monkeypatch):
    dm = _dm()
    original_step = dm.step

    def poisoned(iteration):
        loss = original_step(iteration)
        if iteration == 1:
            with torch.no_grad():
                dm.images[0, 0, 0, 0] = float("nan")
        return loss

    monkeypatch.setattr(dm, "step", poisoned)
    with pytest.raises(HarnessError, match="NaN/infinite at iteration 1.*last good images"):
        dm.distil(tiny, IPC, RunContext(checkpoint=tmp_path / "ck", progress=False, log=lambda s: None))
    from harness.checkpoint import load_state

    saved = load_state(tmp_path / "ck")
    assert torch.isfinite(saved["state"]["images"]).all()


def test_selection_picks_real_images(tiny):
    synset = create_distiller("random").distil(tiny, IPC, RunContext(progress=False))
    real = tiny.normalised()
    for img in synset.images:
        assert (real - img).abs().flatten(1).amax(1).min() < 1e-6


def test_long_tailed_short_class_is_repeated_with_a_warning():
    from harness.data import load_dataset

    lt = load_dataset("fashion-mnist-lt", "train", imbalance=200)
    short = min(lt.class_counts())
    synset = create_distiller("dm", {"iterations": 1, "real_batch": 4}).distil(
        lt, short + 2, RunContext(progress=False, log=lambda s: None))
    assert synset.meta["warnings"] and "initialised by repeating" in synset.meta["warnings"][0]
    assert synset.labels.bincount().tolist() == [short + 2] * 10
