"""Continual learning (GDumb on Avalanche) on a tiny real setting, and distilling a class subset."""

import json
from dataclasses import replace

import pytest
import torch

from distillers import DISTILLERS, create_distiller
from distillers._base import RunContext
from distillers._runner import distil
from harness.data import load_dataset
from harness.errors import HarnessError
from harness.parallel import cpu_cores
from harness.protocol import PROTOCOLS
from harness.records import RecordStore, records_frame, records_path
from harness.synset import load_synset
from tasks.continual import TASK, CLConfig, class_order, run
from tasks.continual.report import continual_summary

IPC = 2
TINY = CLConfig(dataset="mnist-tiny", steps=2, memory=IPC, memories=("gdumb", "herding", "dm"), seeds=1,
                distiller_settings=(("iterations", 2), ("real_batch", 8)),
                protocol=PROTOCOLS["smoke"].with_overrides(epochs=2), progress=False)


@pytest.mark.parametrize("name", DISTILLERS.names())
def test_every_distiller_distils_a_class_subset(name):
    """Labels stay global ids; only the requested classes, IPC each; the manifest names them."""
    cls = DISTILLERS.get(name).cls
    dataset = getattr(cls, "smoke_dataset", "mnist-tiny")  # a distiller may need e.g. attributes
    num_classes = load_dataset(dataset).info.num_classes
    keep = [3, 7] if num_classes > 7 else [num_classes - 1]
    path = distil(name, dataset, IPC, overrides=cls.smoke_settings, progress=False, log=lambda s: None,
                  classes=tuple(reversed(keep)))
    synset = load_synset(path, expect_dataset=dataset)
    manifest = json.loads(path.with_suffix(".json").read_text())
    per_class = manifest.get("images_per_class", IPC)  # decoded images (multi-formation), else IPC
    assert synset.labels.bincount(minlength=num_classes).tolist() == [per_class * (c in keep) for c in range(num_classes)]
    assert torch.isfinite(synset.images).all()
    assert manifest["classes"] == keep


def test_a_distilled_class_depends_on_its_own_images_only(tiny):
    """DM's images of class 3 are the same whether class 7 arrives with it or not (no peeking)."""
    def dm(classes):
        synset = create_distiller("dm", {"iterations": 3, "real_batch": 8}).distil(
            tiny.class_subset(classes), IPC, RunContext(progress=False))
        return synset.images[synset.labels == 3]

    assert torch.allclose(dm([3]), dm([3, 7]), atol=1e-6)


def test_subset_with_unknown_class_is_refused():
    with pytest.raises(HarnessError, match=r"classes \[12\] are not in mnist-tiny"):
        distil("random", "mnist-tiny", IPC, progress=False, log=lambda s: None, classes=(3, 12))


def make_probe():
    """An Avalanche plugin recording, before each experience's training, the memory's class counts
    and whether the model holds its initial weights (GDumb's reset); after it, whether it trained."""
    from avalanche.training.plugins import SupervisedPlugin

    class Probe(SupervisedPlugin):
        def __init__(self):
            super().__init__()
            self.counts, self.reset, self.trained, self.initial = [], [], [], None

        def before_training_exp(self, strategy, **kwargs):
            targets = torch.tensor([int(t) for t in strategy.adapted_dataset.targets])
            self.counts.append(torch.bincount(targets, minlength=10).tolist())
            weights = [p.detach().clone() for p in strategy.model.parameters()]
            self.initial = self.initial or weights
            self.reset.append(all(torch.equal(a, b) for a, b in zip(self.initial, weights)))

        def after_training_exp(self, strategy, **kwargs):
            self.trained.append(any(not torch.equal(a, b.detach())
                                    for a, b in zip(self.initial, strategy.model.parameters())))

    return Probe()


def test_gdumb_memories_records_and_resume():
    probe = make_probe()
    records = run(TINY, log=lambda s: None, probes=[probe])
    order = class_order(10, 0)
    first = [IPC if c in order[:5] else 0 for c in range(10)]
    # three memories x two steps: only seen classes, exactly IPC each; reset before every experience
    assert probe.counts == [first, [IPC] * 10] * 3
    assert all(probe.reset) and all(probe.trained)
    assert len(records) == 6
    by = {(r["memory"], r["step"]): r for r in records}
    for (memory, step), r in by.items():
        assert r["task"] == TASK and r["class_order"] == order and r["seed"] == 0
        assert r["metrics"]["seen_classes"] == order[:5 * step]
        assert r["metrics"]["memory_class_counts"] == (first if step == 1 else [IPC] * 10)
        assert len(r["metrics"]["experience_accuracy"]) == step
        assert 0 <= r["metrics"]["accuracy"] <= 100
        run_protocol = TINY.protocol.for_dataset(load_dataset(TINY.dataset, "test").info)  # no flip on digits
        assert r["protocol_fingerprint"] == run_protocol.fingerprint() and r["protocol"]["epochs"] == 2
        assert r["timing"]["wall_seconds"] > 0
    assert by[("dm", 1)]["distiller_config"]["iterations"] == 2 and by[("gdumb", 1)]["distiller"] is None
    summary = continual_summary(records_frame(records))
    assert set(summary["memory"]) == {"gdumb", "herding", "dm"}
    assert set(summary[summary["memory"] == "dm"]["step"]) == {1, 2} and (summary["n"] == 1).all()

    # a rerun computes nothing new
    assert len(run(TINY, log=lambda s: None)) == 6 and len(RecordStore(records_path(TASK)).load()) == 6

    # interrupted after step 1: only step 2 runs, on the same memory, to the same accuracy
    path = records_path(TASK)
    kept = [json.dumps(r) for r in RecordStore(path).load() if r["step"] == 1]
    path.write_text("\n".join(kept) + "\n")
    probe = make_probe()
    resumed = run(TINY, log=lambda s: None, probes=[probe])
    assert probe.counts == [[IPC] * 10] * 3  # only step 2 trained, on the refilled full memory
    assert {(r["memory"], r["step"]): r["metrics"]["accuracy"] for r in resumed} == \
        {key: r["metrics"]["accuracy"] for key, r in by.items()}


def test_worker_processes_record_what_one_process_records(tmp_path, monkeypatch):
    """(memory, seed) units in two spawned workers: the same cells, each step's memory and accuracy as
    one process gets (the workers run one thread each: only the last bits of the floats may differ)."""
    results = {}
    for workers in (1, 2):
        monkeypatch.setenv("DD_OUTPUT", str(tmp_path / f"workers{workers}"))
        records = run(replace(TINY, workers=workers), log=lambda s: None)
        results[workers] = {r["key"]: (r["metrics"]["memory_class_counts"], r["metrics"]["accuracy"]) for r in records}
        if workers == 2:  # each worker takes its share of the cores, and the records say so beside the wall time
            assert {r["timing"]["threads"] for r in records} == {max(1, cpu_cores() // 2)}
    assert len(results[1]) == 6 and results[2].keys() == results[1].keys()
    for key, (counts, accuracy) in results[1].items():
        assert results[2][key][0] == counts and results[2][key][1] == pytest.approx(accuracy, abs=1.0)


def test_command_prints_the_table(capsys):
    from commands.cl import main

    main(["--dataset", "mnist-tiny", "--steps", "2", "--memory", "1", "--seeds", "2", "--baselines", "gdumb",
          "--distillers", "", "--epochs", "1", "--device", "cpu", "--no-progress"])
    out = capsys.readouterr().out
    assert "4 GDumb trainings from scratch (1 memory kind(s) x 2 seed(s) x 2 steps), 4 of them left, 1 epochs each" in out
    assert "step 1 (5 classes)" in out and "step 2 (10 classes)" in out
    assert out.count("gdumb") == 1 and "\u00b1" in out
    fingerprints = {r["protocol_fingerprint"] for r in RecordStore(records_path("continual")).load()}
    assert len(fingerprints) == 1 and f"({fingerprints.pop()})" in out  # as recorded, adapted to digits


@pytest.mark.parametrize("argv, message", [
    (["--steps", "3"], "does not split 10 classes evenly"),
    (["--distillers", "herding"], "baseline memory"),
])
def test_command_refuses_bad_input(argv, message):
    from commands.cl import main

    with pytest.raises(HarnessError, match=message):
        main(["--dataset", "mnist-tiny", "--no-progress", *argv])


def test_a_memory_builder_that_cannot_restrict_its_pretraining_is_refused(monkeypatch):
    """A distiller whose pretrained networks have no pretrain_classes setting would peek."""
    from distillers.dm import DM

    monkeypatch.setattr(DM, "uses_pretrained", lambda self: True)
    with pytest.raises(HarnessError, match="would peek at classes before they arrive"):
        run(TINY, log=lambda s: None)
