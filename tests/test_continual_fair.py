"""Continual learning without leakage and with equal memory (issue 20 items 1-2): at step t a
memory builder's pretrained networks see the classes seen up to t only; every memory stores the
same number of images per class, and a multi-formation memory brings its equal-budget controls."""

import json

import pytest

from harness.data import load_dataset
from harness.protocol import PROTOCOLS
from tasks.continual import CLConfig, class_order, run

IPC = 2
SMOKE = PROTOCOLS["smoke"].with_overrides(epochs=1)


@pytest.fixture
def watched_pretraining(output_dir, monkeypatch):
    """A fresh pretrained cache for this test (so pretraining runs) and the labels each network trains on."""
    import harness.pretrained

    (output_dir / "cache" / "pretrained").unlink()
    seen = []
    original = harness.pretrained.train_model

    def train_model(model, images, labels, *args, **kwargs):
        seen.append(set(labels.tolist()))
        return original(model, images, labels, *args, **kwargs)

    monkeypatch.setattr(harness.pretrained, "train_model", train_model)
    return seen


def test_a_step_1_extractor_never_sees_a_step_2_class(watched_pretraining, output_dir):
    config = CLConfig(dataset="mnist-tiny", steps=2, memory=IPC, memories=("ncfm",), seeds=1, protocol=SMOKE,
                      distiller_settings=(("iterations", 1), ("real_batch", 4), ("num_freqs", 16), ("pretrained", 1),
                                          ("pretrain_images", 60)), progress=False, workers=1)  # watched here
    records = {r["step"]: r for r in run(config, log=lambda s: None) if r["memory"] == "ncfm"}
    order = class_order(10, 0)
    step1, everything = sorted(order[:5]), sorted(order)
    assert watched_pretraining == [set(step1), set(everything)]  # what the training loop was given, in order
    made = {tuple(json.loads(p.read_text())["classes"]): json.loads(p.read_text())
            for p in (output_dir / "cache" / "pretrained").rglob("manifest.json")}
    assert set(made) == {tuple(step1), tuple(everything)}
    assert made[tuple(step1)]["labels_trained_on"] == step1
    assert records[1]["extra"]["pretrain_classes"] == step1 and records[2]["extra"]["pretrain_classes"] == everything
    assert records[1]["pretrained_on"] == "classes seen so far"
    manifests = [json.loads(p.read_text()) for p in (output_dir / "synsets").rglob("*.json")]
    step1_set = next(m for m in manifests if m["classes"] == step1)
    assert step1_set["pretraining"]["classes"] == step1 and step1_set["config"]["pretrain_classes"] == step1


@pytest.mark.parametrize("name", ["csdm", "ed-critic", "mmd-gaussian+ed", "kcenter", "herding"])
def test_every_pretrained_memory_builder_trains_on_the_seen_classes_only(name, watched_pretraining):
    """Extractors, critics and embeddings alike (herding by its registered name, outside continual
    learning, where the name means the random-feature baseline)."""
    from distillers import DISTILLERS, distil
    from harness.synset import load_synset

    seen = (0, 1, 2, 3, 4)
    overrides = {**DISTILLERS.get(name).cls.smoke_settings, "pretrain_classes": seen}
    path = distil(name, "mnist-tiny", IPC, overrides=overrides, progress=False, log=lambda s: None, classes=(3, 4))
    assert watched_pretraining and all(labels == set(seen) for labels in watched_pretraining)
    meta = load_synset(path).meta
    entries = [meta[k] for k in ("pretraining", "critic_pretraining") if k in meta]
    assert entries and all(e["classes"] == list(seen) for e in entries)


def test_the_attribute_critic_trains_on_the_seen_classes_images_only(watched_pretraining, output_dir):
    """ed-debias's attribute critic is labelled by the attribute: its classes are still the labels."""
    from distillers import DISTILLERS, distil

    dataset = "colored-mnist-spurious-tiny"
    overrides = {**DISTILLERS.get("ed-debias").cls.smoke_settings, "pretrain_classes": (0,)}
    distil("ed-debias", dataset, IPC, overrides=overrides, progress=False, log=lambda s: None, classes=(0,))
    view = load_dataset(f"{dataset}-attr", "train")
    made = [json.loads(p.read_text()) for p in (output_dir / "cache" / "pretrained").rglob("manifest.json")]
    attr = next(m for m in made if m["dataset"].endswith("-attr"))
    label = next(m for m in made if not m["dataset"].endswith("-attr"))
    assert attr["classes"] == [0] and attr["images"] == int((view.attributes == 0).sum())
    assert label["labels_trained_on"] == [0]


def test_pretrain_classes_from_the_command_line_are_class_ids():
    from distillers import create_distiller

    assert create_distiller("ncfm", {"pretrain_classes": "0,1,2"}).config.pretrain_classes == (0, 1, 2)


def test_a_multi_formation_memory_and_random_store_the_same_budget_at_every_step(output_dir):
    config = CLConfig(dataset="mnist-tiny", steps=2, memory=IPC, memories=("gdumb", "ncfm"), seeds=1, protocol=SMOKE,
                      distiller_settings=(("iterations", 1), ("real_batch", 4), ("num_freqs", 16),
                                          ("extractor", "random")), progress=False)
    records = run(config, log=lambda s: None)
    by = {(r["memory"], r["step"]): r["metrics"] for r in records}
    assert {m for m, _ in by} == {"gdumb", "ncfm", "random-packed", "random-decoded"}  # the controls joined
    order = class_order(10, 0)
    for step in (1, 2):
        seen = order[:5 * step]
        assert all(by[(m, step)]["memory_stored_per_class"] == IPC for m in ("gdumb", "ncfm", "random-packed"))
        assert by[("random-decoded", step)]["memory_stored_per_class"] == 4 * IPC  # it stores every real image
        assert [by[("gdumb", step)]["memory_class_counts"][c] for c in seen] == [IPC] * len(seen)
        for m in ("ncfm", "random-packed", "random-decoded"):  # rho = 2: four decoded images per stored one
            assert by[(m, step)]["memory_decoded_per_class"] == 4 * IPC
    stored = {json.loads(p.read_text())["distiller"]: json.loads(p.read_text())
              for p in (output_dir / "synsets").rglob("*.json")}
    assert stored["ncfm"]["ipc"] == stored["random-packed"]["ipc"] == IPC  # stored images per class
    assert stored["ncfm"]["images_per_class"] == stored["random-decoded"]["images_per_class"] == 4 * IPC
